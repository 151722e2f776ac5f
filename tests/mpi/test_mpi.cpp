// Tests that need several ranks (run under mpirun -n 2, and -n 1): the MPI communicator,
// collective parallel HDF5 writes, atomic publication, sharded reads, and the data-parallel step.
#include <gtest/gtest.h>
#include <mpi.h>
#include <torch/torch.h>

#include <map>

#include "salm/core/error.hpp"
#include "salm/data/h5_dataset.hpp"
#include "salm/data/reader.hpp"
#include "salm/data/synth.hpp"
#include "salm/dist/mpi_communicator.hpp"
#include "salm/dist/nccl_communicator.hpp"
#include "salm/dist/shard.hpp"
#include "salm/io/noise_file.hpp"
#include "salm/io/publish.hpp"
#include "salm/dist/mpi.hpp"
#include "salm/models/device.hpp"
#include "salm/models/models.hpp"
#include "salm/models/training.hpp"
#include "test_support.hpp"

using namespace salm;

namespace {
/// A directory every rank agrees on (rank 0 makes it; removed by rank 0 at the end).
struct SharedDir {
  std::unique_ptr<test::TempDir> owned;
  std::string path;
  explicit SharedDir(dist::Communicator& comm) {
    if (comm.rank() == 0) {
      owned = std::make_unique<test::TempDir>();
      path = owned->path();
    }
    comm.broadcast_string(path);
  }
  std::string file(const std::string& n) const { return path + "/" + n; }
};
}  // namespace

TEST(MpiCommunicator, AllreduceOneBucketPerDtype) {
  dist::MpiCommunicator comm;
  int r = comm.rank(), n = comm.size();
  auto a = torch::full({2, 3}, static_cast<float>(r + 1));
  auto b = torch::arange(5, torch::kFloat) * static_cast<float>(r + 1);
  auto c = torch::full({4}, static_cast<double>(r), torch::kDouble);
  auto d = torch::full({3}, static_cast<std::int64_t>(r + 10), torch::kLong);
  auto view = torch::zeros({4, 4}).t();  // non-contiguous
  view.fill_(1.0f);
  std::vector<at::Tensor> ts{a, b, c, d, view};
  comm.allreduce(ts);
  float tri = static_cast<float>(n * (n + 1) / 2);
  EXPECT_TRUE(torch::allclose(a, torch::full({2, 3}, tri)));
  EXPECT_TRUE(torch::allclose(b, torch::arange(5, torch::kFloat) * tri));
  EXPECT_TRUE(torch::allclose(c, torch::full({4}, n * (n - 1) / 2.0, torch::kDouble)));
  EXPECT_EQ(d[0].item<std::int64_t>(), 10 * n + n * (n - 1) / 2);
  EXPECT_TRUE(torch::allclose(view, torch::full({4, 4}, static_cast<float>(n))));

  std::vector<at::Tensor> m{torch::full({3}, static_cast<float>(r))};
  comm.allreduce(m, dist::ReduceOp::max);
  EXPECT_EQ(m[0][2].item<float>(), static_cast<float>(n - 1));
  std::vector<at::Tensor> mean{torch::full({2}, static_cast<float>(2 * r))};
  comm.allreduce_mean(mean);
  EXPECT_FLOAT_EQ(mean[0][0].item<float>(), static_cast<float>(n - 1));
}

TEST(NcclCommunicator, AllreduceAndBroadcastMatchMpiWhereGpusAreVisible) {
  dist::MpiCommunicator mpi;
  const int gpus = models::cuda_device_count();
  // The same answer on every rank, so that every rank skips alike.
  if (!dist::nccl_built()) GTEST_SKIP() << "the CPU variant has no NCCL";
  if (gpus < mpi.size()) GTEST_SKIP() << gpus << " CUDA device(s) visible for " << mpi.size() << " ranks (NCCL needs one each)";
  const Device device = Device::cuda(dist::node_place(mpi.mpi_comm()).rank % gpus);
  auto nccl = dist::make_nccl_communicator(MPI_COMM_WORLD, device);
  EXPECT_EQ(nccl->backend(), "nccl");
  EXPECT_EQ(nccl->rank(), mpi.rank());
  int r = mpi.rank();
  auto make = [&] {
    auto o = torch::TensorOptions().device(models::to_torch(device));
    return std::vector<at::Tensor>{torch::arange(7, o.dtype(torch::kFloat)) * static_cast<float>(r + 1),
                                   torch::full({3}, static_cast<std::int64_t>(r + 10), o.dtype(torch::kLong)),
                                   torch::zeros({3, 3}, o).t().fill_(static_cast<float>(r))};
  };
  auto a = make(), b = make();
  nccl->allreduce(a);
  mpi.allreduce(b);  // GPU tensors through host memory
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(a[i].cpu(), b[i].cpu())) << "tensor " << i;
  auto c = make(), d = make();
  nccl->broadcast(c, 0);
  mpi.broadcast(d, 0);
  for (std::size_t i = 0; i < c.size(); ++i) EXPECT_TRUE(torch::equal(c[i].cpu(), d[i].cpu())) << "tensor " << i;
  double s = r + 1.0;
  nccl->allreduce(&s, 1);
  EXPECT_EQ(s, mpi.size() * (mpi.size() + 1) / 2.0);
}

TEST(NcclCommunicator, RefusesTheCpuAndBuildsWithoutNccl) {
  if (dist::nccl_built()) {
    EXPECT_THROW(dist::make_nccl_communicator(MPI_COMM_WORLD, Device::cpu()), UsageError);
  } else {
    try {
      dist::make_nccl_communicator(MPI_COMM_WORLD, Device::cuda(0));
      FAIL() << "a build without NCCL made an NCCL communicator";
    } catch (const UsageError& e) {
      EXPECT_NE(std::string(e.what()).find("SALM_TORCH=cuda"), std::string::npos) << e.what();
    }
  }
}

TEST(MpiCommunicator, BroadcastScalarsAndErrors) {
  dist::MpiCommunicator comm;
  auto w = torch::full({3, 2}, static_cast<float>(comm.rank() + 7));
  std::vector<at::Tensor> ts{w};
  comm.broadcast(ts, 0);
  EXPECT_TRUE(torch::allclose(w, torch::full({3, 2}, 7.0f)));
  EXPECT_DOUBLE_EQ(comm.allreduce_scalar(1.5), 1.5 * comm.size());
  EXPECT_EQ(comm.allreduce_scalar(std::int64_t{comm.rank()}, dist::ReduceOp::min), 0);
  std::string s = comm.rank() == 0 ? "from rank 0" : "";
  comm.broadcast_string(s);
  EXPECT_EQ(s, "from rank 0");
  comm.barrier();
  // an invalid root is an MPI error, and becomes a typed exception (MPI_ERRORS_RETURN)
  int bad_root = comm.size() + 3;
  EXPECT_THROW(comm.broadcast_bytes(&bad_root, sizeof(bad_root), bad_root), MpiError);
  std::vector<at::Tensor> half{torch::zeros({2}, torch::kHalf)};
  if (comm.size() > 1) EXPECT_THROW(comm.allreduce(half), RuntimeError);
}

TEST(ParallelH5, CollectiveRowWritesAndAtomicPublish) {
  dist::MpiCommunicator comm;
  SharedDir dir(comm);
  std::string path = dir.file("rows.h5");
  const std::int64_t n = 11, w = 3;
  {
    io::AtomicH5Output out(path, false, comm);
    EXPECT_EQ(out.file().parallel(), comm.size() > 1);
    out.file().create_dataset<float>("/x", {n, w});
    out.file().set_attr("/", "ranks", std::int64_t{comm.size()});
    auto s = dist::shard_of(n, comm.rank(), comm.size());
    std::vector<float> mine(static_cast<std::size_t>(s.size() * w));
    for (std::int64_t i = 0; i < s.size() * w; ++i) mine[static_cast<std::size_t>(i)] = static_cast<float>(s.begin * w + i);
    out.file().write_rows("/x", s.begin, s.size(), mine.data());
    comm.barrier();
    EXPECT_FALSE(test::file_exists(path));
    out.commit();
  }
  EXPECT_TRUE(test::file_exists(path));
  EXPECT_FALSE(test::file_exists(path + ".partial"));
  auto f = io::H5File::open_read(path);
  auto all = f.read_all<float>("/x");
  for (std::int64_t i = 0; i < n * w; ++i) ASSERT_EQ(all[static_cast<std::size_t>(i)], static_cast<float>(i));
  EXPECT_EQ(f.attr_int("/", "ranks").value(), comm.size());
  comm.barrier();
  // every rank agrees that the output exists
  EXPECT_THROW(io::AtomicH5Output(path, false, comm), InputError);
  comm.barrier();
}

TEST(ParallelH5, NoiseFileAttributesAreRankZerosEvenWhenRanksDisagree) {
  // Each rank passes attributes of its own, as a clock read on each rank or a count held by one
  // rank would: strings of other lengths and values of other kinds. Written as they are, parallel
  // HDF5 would wait for ever; the file must hold rank 0's, every kind intact.
  dist::MpiCommunicator comm;
  SharedDir dir(comm);
  std::string path = dir.file("noise.h5");
  const std::int64_t n = 4, h = 2, w = 2, c = 1;
  auto s = dist::shard_of(n, comm.rank(), comm.size());
  std::vector<float> delta(static_cast<std::size_t>(s.size() * h * w * c), 0.f);
  std::vector<std::uint8_t> mask(static_cast<std::size_t>(s.size() * h * w), 1), prot(delta.size(), 7);
  std::vector<std::int64_t> labels(static_cast<std::size_t>(s.size()), 1), index(labels.size());
  for (std::size_t i = 0; i < index.size(); ++i) index[i] = s.begin + static_cast<std::int64_t>(i);
  const int r = comm.rank();
  io::Attributes attrs{{"who", std::string(static_cast<std::size_t>(5 + 20 * r), 'a' + static_cast<char>(r))},
                       {"count", std::int64_t{100 + r}},
                       {"share", 0.1 + r},
                       {"flag", r == 0},
                       {"absent", std::monostate{}}};
  io::write_noise_file(path, false, comm, {n, h, w, c, 0},
                       {s.begin, s.size(), delta.data(), mask.data(), prot.data(), labels.data(), index.data()}, attrs);
  auto f = io::H5File::open_read(path);
  EXPECT_EQ(f.attr_string("/", "who").value(), "aaaaa");
  EXPECT_EQ(f.attr_int("/", "count").value(), 100);
  EXPECT_EQ(f.attr_double("/", "share").value(), 0.1);
  EXPECT_EQ(f.attr_int("/", "flag").value(), 1);
  EXPECT_FALSE(f.attr_string("/", "absent").has_value());
  comm.barrier();
}

TEST(ParallelH5, ShardedDatasetWriteAndRead) {
  dist::MpiCommunicator comm;
  SharedDir dir(comm);
  data::SynthOptions o;
  o.train = 37;
  o.val = 0;
  o.test = 5;  // fewer rows than some ranks in bigger jobs: empty shards are fine
  std::map<std::string, data::SplitShape> shapes{{"train", data::synth_shape(o, "train")},
                                                 {"test", data::synth_shape(o, "test")}};
  std::string path = dir.file("d.h5");
  data::write_dataset_file(path, false, comm, data::synth_info(o), shapes,
                           [&](const std::string& s, std::int64_t b, std::int64_t c) { return data::synth_rows(o, s, b, c); },
                           /*chunk_rows=*/7);
  auto reader = data::open_dataset(path);
  for (const auto& split : {"train", "test"}) {
    auto mine = reader->read_shard(split, comm.rank(), comm.size());
    auto s = dist::shard_of(reader->shape(split).rows, comm.rank(), comm.size());
    EXPECT_EQ(mine.row_begin, s.begin);
    EXPECT_EQ(mine.rows(), s.size());
    auto want = data::synth_rows(o, split, s.begin, s.size());
    EXPECT_EQ(mine.images, want.images) << split;
    EXPECT_EQ(mine.labels, want.labels) << split;
    // the shards of all ranks add up to the split
    EXPECT_EQ(comm.allreduce_scalar(mine.rows()), reader->shape(split).rows);
  }
  comm.barrier();
}

namespace {
/// A model without batch norm: the data-parallel step on R ranks is then the one-rank step on
/// the whole global batch (batch norm would normalise each rank's rows by their own statistics).
struct LinearNet : models::Net {
  torch::nn::Linear fc{nullptr};
  LinearNet() { fc = register_module("fc", torch::nn::Linear(4 * 4 * 1, 3)); }
  at::Tensor forward(const at::Tensor& x) override { return fc(x.flatten(1)); }
};
}  // namespace

TEST(DataParallelStep, TwoRanksTakeTheOneRankStepOnTheWholeBatch) {
  dist::MpiCommunicator comm;
  const std::int64_t n = 16;
  torch::manual_seed(5);
  auto x = torch::rand({n, 1, 4, 4});
  auto y = torch::arange(n, torch::kLong) % 3;
  std::vector<std::int64_t> batch{14, 3, 9, 0, 7, 12, 5, 10, 1, 15};  // global rows, the same on every rank
  auto mine = dist::shard_of(n, comm.rank(), comm.size());
  auto make = [] {
    torch::manual_seed(1);
    return std::make_shared<LinearNet>();
  };
  auto a = make(), b = make();
  torch::optim::SGD sa(a->parameters(), torch::optim::SGDOptions(0.5).momentum(0.9));
  torch::optim::SGD sb(b->parameters(), torch::optim::SGDOptions(0.5).momentum(0.9));
  auto xl = x.narrow(0, mine.begin, mine.size()), yl = y.narrow(0, mine.begin, mine.size());
  dist::SelfCommunicator self;
  for (int step = 0; step < 3; ++step) {
    auto r = models::data_parallel_step(*a, sa, batch, mine.begin, mine.size(),
                                        [&](const models::LocalRows& l) { return xl.index_select(0, l.index); }, yl,
                                        false, comm);
    models::data_parallel_step(*b, sb, batch, 0, n, [&](const models::LocalRows& l) { return x.index_select(0, l.index); },
                               y, false, self);
    EXPECT_EQ(comm.allreduce_scalar(r.rows), static_cast<std::int64_t>(batch.size()));
  }
  auto pa = a->parameters(), pb = b->parameters();
  for (std::size_t i = 0; i < pa.size(); ++i) EXPECT_TRUE(torch::allclose(pa[i], pb[i], 1e-5, 1e-6)) << i;
  // ... and every rank holds the same model.
  auto w = pa[0].clone();
  std::vector<at::Tensor> ws{w};
  comm.allreduce(ws, dist::ReduceOp::max);
  EXPECT_TRUE(torch::equal(w, pa[0]));
}
