/// The one communication API of salm: what a method or a trainer needs from its peers.
///
/// Backends: SelfCommunicator (one rank, no MPI calls), MpiCommunicator (CPU tensors over MPI),
/// NcclCommunicator (GPU tensors, when built with NCCL). Every operation has a default that fails
/// with a clear message naming the backend, so a backend only implements what it supports.
/// All operations are collective: every rank of the communicator must call them in the same order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <mpi.h>

namespace at {
class Tensor;
}

namespace salm::dist {

enum class ReduceOp { sum, min, max };

class Communicator {
public:
  virtual ~Communicator() = default;

  virtual int rank() const = 0;
  virtual int size() const = 0;
  /// "self", "mpi" or "nccl".
  virtual std::string backend() const = 0;

  /// Reduces `tensors` in place across ranks. Tensors of one dtype travel in one flat bucket:
  /// one collective per dtype, not one per tensor. Shapes and order must match on all ranks.
  virtual void allreduce(std::vector<at::Tensor>& tensors, ReduceOp op = ReduceOp::sum);
  /// allreduce(sum) followed by division by size(): averaged gradients.
  void allreduce_mean(std::vector<at::Tensor>& tensors);
  /// Copies `tensors` of rank `root` into the same tensors of every other rank (one bucket).
  virtual void broadcast(std::vector<at::Tensor>& tensors, int root = 0);

  /// Reductions of plain buffers (counts, losses, timings).
  virtual void allreduce(double* data, std::size_t n, ReduceOp op = ReduceOp::sum);
  virtual void allreduce(std::int64_t* data, std::size_t n, ReduceOp op = ReduceOp::sum);
  /// Broadcasts `bytes` bytes from `root`.
  virtual void broadcast_bytes(void* data, std::size_t bytes, int root = 0);
  /// Broadcasts a string from `root` (resized on receivers).
  void broadcast_string(std::string& s, int root = 0);
  virtual void barrier();

  /// The MPI communicator for libraries that need one (parallel HDF5): MPI_COMM_NULL when
  /// this backend has no MPI underneath.
  virtual MPI_Comm mpi_comm() const { return MPI_COMM_NULL; }

  /// Convenience: one scalar, reduced.
  double allreduce_scalar(double x, ReduceOp op = ReduceOp::sum);
  std::int64_t allreduce_scalar(std::int64_t x, ReduceOp op = ReduceOp::sum);

protected:
  [[noreturn]] void unsupported(const char* what) const;
};

/// One rank: every collective is the identity. Makes no MPI call.
class SelfCommunicator final : public Communicator {
public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::string backend() const override { return "self"; }
  void allreduce(std::vector<at::Tensor>&, ReduceOp) override {}
  void broadcast(std::vector<at::Tensor>&, int) override {}
  void allreduce(double*, std::size_t, ReduceOp) override {}
  void allreduce(std::int64_t*, std::size_t, ReduceOp) override {}
  void broadcast_bytes(void*, std::size_t, int) override {}
  void barrier() override {}
};

/// The communicator for this process: MpiCommunicator over a duplicate of MPI_COMM_WORLD when
/// MPI is active (any size), else SelfCommunicator.
std::unique_ptr<Communicator> make_world_communicator();

}  // namespace salm::dist
