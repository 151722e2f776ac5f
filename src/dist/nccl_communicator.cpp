#include "salm/dist/nccl_communicator.hpp"

#include <unistd.h>

#include <exception>
#include <map>
#include <utility>

#include <ATen/ATen.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "salm/config.hpp"
#include "salm/core/error.hpp"
#include "salm/dist/mpi.hpp"
#include "salm/dist/mpi_communicator.hpp"

#if SALM_HAS_NCCL
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
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

ncclDataType_t nccl_type(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return ncclFloat32;
    case at::kDouble: return ncclFloat64;
    case at::kHalf: return ncclFloat16;
    case at::kBFloat16: return ncclBfloat16;
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

/// A move-only ncclComm_t: destroyed normally, aborted when destroyed while an exception is on
/// its way (the other ranks may be waiting in a collective that will never complete).
class NcclComm {
public:
  NcclComm() = default;
  explicit NcclComm(ncclComm_t c) : comm_(c) {}
  ~NcclComm() { reset(std::uncaught_exceptions() > 0); }
  NcclComm(NcclComm&& o) noexcept : comm_(std::exchange(o.comm_, nullptr)) {}
  NcclComm& operator=(NcclComm&& o) noexcept {
    if (this != &o) {
      reset(false);
      comm_ = std::exchange(o.comm_, nullptr);
    }
    return *this;
  }
  NcclComm(const NcclComm&) = delete;
  NcclComm& operator=(const NcclComm&) = delete;
  ncclComm_t get() const { return comm_; }
  void reset(bool abort) noexcept {
    if (!comm_) return;
    ncclResult_t r = abort ? ncclCommAbort(comm_) : ncclCommDestroy(comm_);
    if (r != ncclSuccess) spdlog::warn("NCCL {}: {}", abort ? "ncclCommAbort" : "ncclCommDestroy", ncclGetErrorString(r));
    comm_ = nullptr;
  }

private:
  ncclComm_t comm_ = nullptr;
};

class NcclCommunicator final : public Communicator {
public:
  NcclCommunicator(MPI_Comm parent, const Device& device) : device_(static_cast<c10::DeviceIndex>(device.index)) {
    if (parent != MPI_COMM_NULL) mpi_ = std::make_unique<MpiCommunicator>(parent);
    rank_ = mpi_ ? mpi_->rank() : 0;
    size_ = mpi_ ? mpi_->size() : 1;
    c10::cuda::CUDAGuard guard(device_);
    ncclUniqueId id{};
    if (rank_ == 0) check(ncclGetUniqueId(&id), "ncclGetUniqueId");
    if (mpi_) mpi_->broadcast_bytes(&id, sizeof(id), 0);
    ncclComm_t c = nullptr;
    check(ncclCommInitRank(&c, size_, id, rank_), "ncclCommInitRank");
    comm_ = NcclComm(c);
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string backend() const override { return "nccl"; }
  MPI_Comm mpi_comm() const override { return mpi_ ? mpi_->mpi_comm() : MPI_COMM_NULL; }

  void allreduce(std::vector<at::Tensor>& tensors, ReduceOp op) override {
    if (size_ == 1) return;
    each_bucket(tensors, "ncclAllReduce", [&](void* ptr, std::size_t count, ncclDataType_t type, cudaStream_t s) {
      return ncclAllReduce(ptr, ptr, count, type, nccl_op(op), comm_.get(), s);
    });
  }
  void broadcast(std::vector<at::Tensor>& tensors, int root) override {
    if (size_ == 1) return;
    each_bucket(tensors, "ncclBroadcast", [&](void* ptr, std::size_t count, ncclDataType_t type, cudaStream_t s) {
      return ncclBroadcast(ptr, ptr, count, type, root, comm_.get(), s);
    });
  }
  void allreduce(double* data, std::size_t n, ReduceOp op) override {
    if (mpi_) mpi_->allreduce(data, n, op);
  }
  void allreduce(std::int64_t* data, std::size_t n, ReduceOp op) override {
    if (mpi_) mpi_->allreduce(data, n, op);
  }
  void broadcast_bytes(void* data, std::size_t bytes, int root) override {
    if (mpi_) mpi_->broadcast_bytes(data, bytes, root);
  }
  void barrier() override {
    if (mpi_) mpi_->barrier();
  }

private:
  /// A failed call aborts the communicator first: a rank that throws must not leave the others
  /// waiting in NCCL.
  void check(ncclResult_t r, const char* call) {
    if (r == ncclSuccess) return;
    comm_.reset(/*abort=*/true);
    throw RuntimeError(fmt::format("NCCL {} failed on rank {} ({}, cuda:{}): {}", call, rank_, host_name(),
                                   static_cast<int>(device_), ncclGetErrorString(r)));
  }

  /// One collective per dtype on LibTorch's current stream of the rank's device: the bucket's
  /// tensors are packed into one flat device tensor (a single contiguous tensor is used in place),
  /// and unpacked after. The stream orders the collective after the kernels that made the tensors
  /// and before those that read them: no host synchronisation.
  template <typename Collective>
  void each_bucket(std::vector<at::Tensor>& ts, const char* call, Collective collective) {
    c10::cuda::CUDAGuard guard(device_);
    cudaStream_t stream = c10::cuda::getCurrentCUDAStream(device_).stream();
    std::map<at::ScalarType, std::vector<std::size_t>> buckets;
    for (std::size_t i = 0; i < ts.size(); ++i) {
      if (!ts[i].defined()) throw RuntimeError(fmt::format("NcclCommunicator: tensor {} is undefined", i));
      if (!ts[i].is_cuda() || ts[i].device().index() != device_)
        throw RuntimeError(fmt::format("NcclCommunicator: tensor {} is on {}, not on this rank's cuda:{}", i,
                                       ts[i].device().str(), static_cast<int>(device_)));
      buckets[ts[i].scalar_type()].push_back(i);
    }
    for (auto& [dtype, idx] : buckets) {
      const bool single = idx.size() == 1 && ts[idx[0]].is_contiguous();
      at::Tensor flat;
      if (single) {
        flat = ts[idx[0]];
      } else {
        std::vector<at::Tensor> parts;
        for (auto i : idx) parts.push_back(ts[i].reshape({-1}));
        flat = at::cat(parts);
      }
      check(collective(flat.data_ptr(), static_cast<std::size_t>(flat.numel()), nccl_type(dtype), stream), call);
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

  std::unique_ptr<MpiCommunicator> mpi_;
  int rank_ = 0, size_ = 1;
  c10::DeviceIndex device_ = 0;
  NcclComm comm_;
};

}  // namespace

std::string nccl_version() {
  int v = 0;
  if (ncclGetVersion(&v) != ncclSuccess) return "?";
  // NCCL_VERSION_CODE: major*10000 + minor*100 + patch (from 2.9)
  return fmt::format("{}.{}.{}", v / 10000, (v / 100) % 100, v % 100);
}

std::unique_ptr<Communicator> make_nccl_communicator(MPI_Comm parent, const Device& device) {
  if (!device.is_cuda())
    throw UsageError("--comm nccl needs a CUDA device (--device auto|cuda|cuda:N on a machine with a GPU); use --comm mpi");
  return std::make_unique<NcclCommunicator>(parent, device);
}

#else

std::string nccl_version() { return ""; }

std::unique_ptr<Communicator> make_nccl_communicator(MPI_Comm, const Device&) {
  throw UsageError(
      "--comm nccl: this salm has no NCCL (it comes with the CUDA variant: SALM_TORCH=cuda tools/build.sh)");
}

#endif

}  // namespace salm::dist
