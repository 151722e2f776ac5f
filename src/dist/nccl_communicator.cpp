#include "salm/dist/nccl_communicator.hpp"

#include <unistd.h>

#include <map>

#include <ATen/ATen.h>
#include <fmt/format.h>

#include "salm/config.hpp"
#include "salm/core/error.hpp"
#include "salm/dist/mpi.hpp"
#include "salm/dist/mpi_communicator.hpp"

#if SALM_HAS_NCCL
#include <cuda_runtime_api.h>
#include <nccl.h>
#endif

namespace salm::dist {

bool nccl_built() { return SALM_HAS_NCCL != 0; }

#if SALM_HAS_NCCL
namespace {

std::string host_name() {
  char h[256] = {0};
  gethostname(h, sizeof(h) - 1);
  return h;
}

void check_cuda(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw RuntimeError(fmt::format("CUDA {} on {}: {}", what, host_name(), cudaGetErrorString(e)));
}

void check_nccl(ncclResult_t r, const char* what) {
  if (r != ncclSuccess) throw RuntimeError(fmt::format("NCCL {} on {}: {}", what, host_name(), ncclGetErrorString(r)));
}

ncclDataType_t nccl_type(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return ncclFloat32;
    case at::kDouble: return ncclFloat64;
    case at::kHalf: return ncclFloat16;
    case at::kLong: return ncclInt64;
    case at::kInt: return ncclInt32;
    case at::kByte: return ncclUint8;
    default: throw RuntimeError(fmt::format("NcclCommunicator: unsupported tensor dtype {}", c10::toString(t)));
  }
}

ncclRedOp_t nccl_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::sum: return ncclSum;
    case ReduceOp::min: return ncclMin;
    case ReduceOp::max: return ncclMax;
  }
  return ncclSum;
}

class NcclCommunicator final : public Communicator {
public:
  explicit NcclCommunicator(MPI_Comm parent) : mpi_(parent) {
    // This rank's GPU: its rank on the node, modulo the node's devices.
    MPI_Comm node = MPI_COMM_NULL;
    SALM_CHECK_MPI(MPI_Comm_split_type(mpi_.mpi_comm(), MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node));
    int local = 0;
    SALM_CHECK_MPI(MPI_Comm_rank(node, &local));
    MPI_Comm_free(&node);
    int devices = 0;
    cudaError_t e = cudaGetDeviceCount(&devices);
    if (e != cudaSuccess || devices == 0)
      throw RuntimeError(fmt::format("--comm nccl: no CUDA device visible on {} ({}); use --comm mpi", host_name(),
                                     e != cudaSuccess ? cudaGetErrorString(e) : "0 devices"));
    device_ = local % devices;
    check_cuda(cudaSetDevice(device_), "cudaSetDevice");
    // A blocking stream: it waits for the legacy default stream, where LibTorch's kernels run
    // unless told otherwise, so a GPU tensor is complete before NCCL reads it.
    check_cuda(cudaStreamCreateWithFlags(&stream_, cudaStreamDefault), "cudaStreamCreate");
    ncclUniqueId id{};
    if (mpi_.rank() == 0) check_nccl(ncclGetUniqueId(&id), "ncclGetUniqueId");
    mpi_.broadcast_bytes(&id, sizeof(id), 0);
    check_nccl(ncclCommInitRank(&comm_, mpi_.size(), id, mpi_.rank()), "ncclCommInitRank");
  }
  ~NcclCommunicator() override {
    if (staging_) cudaFree(staging_);
    if (comm_) ncclCommDestroy(comm_);
    if (stream_) cudaStreamDestroy(stream_);
  }
  NcclCommunicator(const NcclCommunicator&) = delete;
  NcclCommunicator& operator=(const NcclCommunicator&) = delete;

  int rank() const override { return mpi_.rank(); }
  int size() const override { return mpi_.size(); }
  std::string backend() const override { return "nccl"; }
  MPI_Comm mpi_comm() const override { return mpi_.mpi_comm(); }

  void allreduce(std::vector<at::Tensor>& tensors, ReduceOp op) override {
    if (size() == 1) return;
    each_bucket(tensors, [&](void* ptr, std::size_t count, ncclDataType_t type) {
      check_nccl(ncclAllReduce(ptr, ptr, count, type, nccl_op(op), comm_, stream_), "ncclAllReduce");
    });
  }
  void broadcast(std::vector<at::Tensor>& tensors, int root) override {
    if (size() == 1) return;
    each_bucket(tensors, [&](void* ptr, std::size_t count, ncclDataType_t type) {
      check_nccl(ncclBroadcast(ptr, ptr, count, type, root, comm_, stream_), "ncclBroadcast");
    });
  }
  void allreduce(double* data, std::size_t n, ReduceOp op) override { mpi_.allreduce(data, n, op); }
  void allreduce(std::int64_t* data, std::size_t n, ReduceOp op) override { mpi_.allreduce(data, n, op); }
  void broadcast_bytes(void* data, std::size_t bytes, int root) override { mpi_.broadcast_bytes(data, bytes, root); }
  void barrier() override { mpi_.barrier(); }

private:
  /// One collective per dtype: the bucket's tensors are packed into one flat tensor (in place
  /// when a single contiguous one), which goes to the GPU when it is in host memory.
  template <typename Collective>
  void each_bucket(std::vector<at::Tensor>& ts, Collective collective) {
    std::map<at::ScalarType, std::vector<std::size_t>> buckets;
    for (std::size_t i = 0; i < ts.size(); ++i) {
      if (!ts[i].defined()) throw RuntimeError(fmt::format("NcclCommunicator: tensor {} is undefined", i));
      buckets[ts[i].scalar_type()].push_back(i);
    }
    for (auto& [dtype, idx] : buckets) {
      bool single = idx.size() == 1 && ts[idx[0]].is_contiguous();
      at::Tensor flat;
      if (single) {
        flat = ts[idx[0]];
      } else {
        std::vector<at::Tensor> parts;
        for (auto i : idx) parts.push_back(ts[i].reshape({-1}));
        flat = at::cat(parts);
      }
      std::size_t bytes = static_cast<std::size_t>(flat.numel()) * flat.element_size();
      void* ptr = flat.data_ptr();
      if (!flat.is_cuda()) {  // stage host memory through the device
        reserve(bytes);
        check_cuda(cudaMemcpyAsync(staging_, ptr, bytes, cudaMemcpyHostToDevice, stream_), "cudaMemcpy");
        ptr = staging_;
      }
      collective(ptr, static_cast<std::size_t>(flat.numel()), nccl_type(dtype));
      if (!flat.is_cuda())
        check_cuda(cudaMemcpyAsync(flat.data_ptr(), staging_, bytes, cudaMemcpyDeviceToHost, stream_), "cudaMemcpy");
      check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
      if (!single) {
        std::int64_t off = 0;
        for (auto i : idx) {
          auto n = ts[i].numel();
          ts[i].copy_(flat.narrow(0, off, n).view(ts[i].sizes()));
          off += n;
        }
      }
    }
  }
  void reserve(std::size_t bytes) {
    if (bytes <= staging_bytes_) return;
    if (staging_) check_cuda(cudaFree(staging_), "cudaFree");
    staging_ = nullptr;
    staging_bytes_ = 0;
    check_cuda(cudaMalloc(&staging_, bytes), "cudaMalloc");
    staging_bytes_ = bytes;
  }

  MpiCommunicator mpi_;
  int device_ = 0;
  cudaStream_t stream_ = nullptr;
  ncclComm_t comm_ = nullptr;
  void* staging_ = nullptr;
  std::size_t staging_bytes_ = 0;
};

}  // namespace

std::unique_ptr<Communicator> make_nccl_communicator(MPI_Comm parent) {
  return std::make_unique<NcclCommunicator>(parent);
}

#else

std::unique_ptr<Communicator> make_nccl_communicator(MPI_Comm) {
  throw UsageError("--comm nccl: this salm was built without NCCL (configure with -DSALM_WITH_NCCL=ON and NCCL_ROOT)");
}

#endif

}  // namespace salm::dist
