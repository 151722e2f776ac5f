/// Communicator over MPI for CPU tensors: MPI is called directly on the tensors' memory, and
/// gradients are packed into one flat bucket per dtype (one MPI_Allreduce per step, not one per
/// parameter).
#pragma once

#include "salm/dist/communicator.hpp"
#include "salm/dist/mpi.hpp"

namespace salm::dist {

class MpiCommunicator final : public Communicator {
public:
  /// Duplicates `parent` (collective), so that salm's traffic never mixes with other users of it.
  explicit MpiCommunicator(MPI_Comm parent = MPI_COMM_WORLD);

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string backend() const override { return "mpi"; }
  void allreduce(std::vector<at::Tensor>& tensors, ReduceOp op = ReduceOp::sum) override;
  void broadcast(std::vector<at::Tensor>& tensors, int root = 0) override;
  void allreduce(double* data, std::size_t n, ReduceOp op = ReduceOp::sum) override;
  void allreduce(std::int64_t* data, std::size_t n, ReduceOp op = ReduceOp::sum) override;
  void broadcast_bytes(void* data, std::size_t bytes, int root = 0) override;
  void barrier() override;
  MPI_Comm mpi_comm() const override { return comm_.get(); }

private:
  MpiComm comm_;
  int rank_ = 0, size_ = 1;
};

}  // namespace salm::dist
