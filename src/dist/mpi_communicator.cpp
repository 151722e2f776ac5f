#include "salm/dist/mpi_communicator.hpp"

#include <map>

#include <ATen/ATen.h>
#include <fmt/format.h>

#include "salm/core/error.hpp"

namespace salm::dist {
namespace {

MPI_Datatype mpi_type(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return MPI_FLOAT;
    case at::kDouble: return MPI_DOUBLE;
    case at::kLong: return MPI_INT64_T;
    case at::kInt: return MPI_INT32_T;
    case at::kByte: return MPI_UINT8_T;
    default:
      throw RuntimeError(fmt::format("MpiCommunicator: unsupported tensor dtype {}", c10::toString(t)));
  }
}

MPI_Op mpi_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::sum: return MPI_SUM;
    case ReduceOp::min: return MPI_MIN;
    case ReduceOp::max: return MPI_MAX;
  }
  return MPI_SUM;
}

/// Groups tensor indices by dtype.
std::map<at::ScalarType, std::vector<std::size_t>> buckets_by_dtype(const std::vector<at::Tensor>& ts) {
  std::map<at::ScalarType, std::vector<std::size_t>> out;
  for (std::size_t i = 0; i < ts.size(); ++i) {
    if (!ts[i].defined()) throw RuntimeError(fmt::format("MpiCommunicator: tensor {} is undefined", i));
    out[ts[i].scalar_type()].push_back(i);
  }
  return out;
}

/// Runs `fn(flat)` on one flat contiguous host buffer holding the tensors of `idx`, then copies the
/// result back. A single contiguous CPU tensor is used in place; GPU tensors travel through host
/// memory (MPI reads host pointers; --comm nccl keeps them on the device).
template <typename Fn>
void with_flat_bucket(std::vector<at::Tensor>& ts, const std::vector<std::size_t>& idx, Fn fn) {
  if (idx.size() == 1 && ts[idx[0]].is_contiguous() && ts[idx[0]].is_cpu()) {
    fn(ts[idx[0]]);
    return;
  }
  std::vector<at::Tensor> flat_parts;
  flat_parts.reserve(idx.size());
  for (auto i : idx) flat_parts.push_back(ts[i].reshape({-1}));
  at::Tensor flat = at::cat(flat_parts).cpu();
  fn(flat);
  std::int64_t off = 0;
  for (auto i : idx) {
    auto n = ts[i].numel();
    ts[i].copy_(flat.narrow(0, off, n).view(ts[i].sizes()));
    off += n;
  }
}

}  // namespace

MpiCommunicator::MpiCommunicator(MPI_Comm parent) : comm_(MpiComm::duplicate(parent)) {
  SALM_CHECK_MPI(MPI_Comm_rank(comm_.get(), &rank_));
  SALM_CHECK_MPI(MPI_Comm_size(comm_.get(), &size_));
}

void MpiCommunicator::allreduce(std::vector<at::Tensor>& tensors, ReduceOp op) {
  if (size_ == 1) return;
  for (auto& [dtype, idx] : buckets_by_dtype(tensors)) {
    with_flat_bucket(tensors, idx, [&](at::Tensor& flat) {
      SALM_CHECK(flat.numel() <= std::numeric_limits<int>::max(), "bucket too large for one MPI call");
      SALM_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, flat.data_ptr(), static_cast<int>(flat.numel()),
                                   mpi_type(dtype), mpi_op(op), comm_.get()));
    });
  }
}

void MpiCommunicator::broadcast(std::vector<at::Tensor>& tensors, int root) {
  if (size_ == 1) return;
  for (auto& [dtype, idx] : buckets_by_dtype(tensors)) {
    with_flat_bucket(tensors, idx, [&](at::Tensor& flat) {
      SALM_CHECK(flat.numel() <= std::numeric_limits<int>::max(), "bucket too large for one MPI call");
      SALM_CHECK_MPI(MPI_Bcast(flat.data_ptr(), static_cast<int>(flat.numel()), mpi_type(dtype), root,
                               comm_.get()));
    });
  }
}

void MpiCommunicator::allreduce(double* data, std::size_t n, ReduceOp op) {
  SALM_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, data, static_cast<int>(n), MPI_DOUBLE, mpi_op(op), comm_.get()));
}

void MpiCommunicator::allreduce(std::int64_t* data, std::size_t n, ReduceOp op) {
  SALM_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, data, static_cast<int>(n), MPI_INT64_T, mpi_op(op), comm_.get()));
}

void MpiCommunicator::broadcast_bytes(void* data, std::size_t bytes, int root) {
  SALM_CHECK(bytes <= static_cast<std::size_t>(std::numeric_limits<int>::max()), "broadcast too large");
  SALM_CHECK_MPI(MPI_Bcast(data, static_cast<int>(bytes), MPI_BYTE, root, comm_.get()));
}

void MpiCommunicator::barrier() { SALM_CHECK_MPI(MPI_Barrier(comm_.get())); }

}  // namespace salm::dist
