/// Intra-op threads per rank. Oversubscription is the main CPU pitfall of data-parallel runs:
/// 2 ranks x 2 threads on 2 cores was measured 3-6x slower than 2 x 1. So the default is the
/// number of CPUs in this rank's affinity mask (what mpirun/srun bound it to), divided among the
/// node's ranks when the mask is not exclusive to this rank.
#pragma once

#include <mpi.h>

namespace salm::dist {

struct ThreadChoice {
  int threads = 1;
  const char* reason = "";
};

/// Decides the thread count: `requested` (> 0) wins; else OMP_NUM_THREADS; else
/// SLURM_CPUS_PER_TASK; else the affinity mask (shared by `local_ranks` ranks when it covers the
/// whole node).
ThreadChoice choose_threads(int requested, int affinity_cpus, int node_cpus, int local_ranks);

/// Counts the ranks of `comm` on this node (MPI_COMM_TYPE_SHARED); 1 when comm is null.
int local_rank_count(MPI_Comm comm);

/// Chooses and applies the thread count to LibTorch (intra-op). Returns the choice.
ThreadChoice configure_threads(int requested, MPI_Comm comm);

}  // namespace salm::dist
