#include "salm/dist/threads.hpp"

#include <algorithm>
#include <thread>

#include <ATen/Parallel.h>
#include <spdlog/spdlog.h>

#include "salm/core/system.hpp"
#include "salm/dist/mpi.hpp"

namespace salm::dist {

ThreadChoice choose_threads(int requested, int affinity_cpus, int node_cpus, int local_ranks) {
  if (requested > 0) return {requested, "--threads"};
  if (int omp = env_positive_int("OMP_NUM_THREADS"); omp > 0) return {omp, "OMP_NUM_THREADS"};
  if (int slurm = env_positive_int("SLURM_CPUS_PER_TASK"); slurm > 0) return {slurm, "SLURM_CPUS_PER_TASK"};
  affinity_cpus = std::max(1, affinity_cpus);
  local_ranks = std::max(1, local_ranks);
  if (local_ranks > 1 && affinity_cpus >= node_cpus)  // unbound ranks share the whole node
    return {std::max(1, affinity_cpus / local_ranks), "node CPUs / ranks on the node"};
  return {affinity_cpus, "CPU affinity mask"};
}

int local_rank_count(MPI_Comm comm) { return comm == MPI_COMM_NULL ? 1 : node_place(comm).size; }

ThreadChoice configure_threads(int requested, MPI_Comm comm) {
  int node_cpus = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  ThreadChoice c = choose_threads(requested, affinity_cpu_count(), node_cpus, local_rank_count(comm));
  at::set_num_threads(c.threads);
  spdlog::debug("threads per rank: {} ({})", c.threads, c.reason);
  return c;
}

}  // namespace salm::dist
