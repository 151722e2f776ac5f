#include "salm/dist/communicator.hpp"

#include <ATen/ATen.h>
#include <fmt/format.h>

#include "salm/core/error.hpp"
#include "salm/dist/mpi.hpp"
#include "salm/dist/mpi_communicator.hpp"
#include "salm/dist/shard.hpp"

namespace salm::dist {

void Communicator::unsupported(const char* what) const {
  throw RuntimeError(fmt::format("the '{}' communicator does not support {}", backend(), what));
}

void Communicator::allreduce(std::vector<at::Tensor>&, ReduceOp) { unsupported("tensor allreduce"); }
void Communicator::broadcast(std::vector<at::Tensor>&, int) { unsupported("tensor broadcast"); }
void Communicator::allreduce(double*, std::size_t, ReduceOp) { unsupported("double allreduce"); }
void Communicator::allreduce(std::int64_t*, std::size_t, ReduceOp) { unsupported("int64 allreduce"); }
void Communicator::broadcast_bytes(void*, std::size_t, int) { unsupported("byte broadcast"); }
void Communicator::barrier() { unsupported("barrier"); }

void Communicator::allreduce_mean(std::vector<at::Tensor>& tensors) {
  allreduce(tensors, ReduceOp::sum);
  if (size() > 1)
    for (auto& t : tensors) t.div_(static_cast<double>(size()));
}

void Communicator::broadcast_string(std::string& s, int root) {
  std::int64_t n = static_cast<std::int64_t>(s.size());
  broadcast_bytes(&n, sizeof(n), root);
  s.resize(static_cast<std::size_t>(n));
  if (n > 0) broadcast_bytes(s.data(), static_cast<std::size_t>(n), root);
}

double Communicator::allreduce_scalar(double x, ReduceOp op) {
  allreduce(&x, 1, op);
  return x;
}

std::int64_t Communicator::allreduce_scalar(std::int64_t x, ReduceOp op) {
  allreduce(&x, 1, op);
  return x;
}

std::unique_ptr<Communicator> make_world_communicator() {
  if (MpiEnvironment::active()) return std::make_unique<MpiCommunicator>(MPI_COMM_WORLD);
  return std::make_unique<SelfCommunicator>();
}

}  // namespace salm::dist
