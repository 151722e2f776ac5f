/// The NCCL backend of the Communicator: tensor collectives (gradient buckets, model broadcast)
/// run through NCCL on this rank's GPU; scalars, strings and barriers stay on MPI, which also
/// bootstraps NCCL (rank 0's unique id is broadcast over MPI).
///
/// GPU tensors are reduced in place. Host tensors (Debian's LibTorch is CPU-only) are staged
/// through one device buffer per dtype bucket: the GPUs' interconnect (NVLink, InfiniBand with
/// GPUDirect) then carries the bytes instead of MPI's host path.
///
/// The GPU of a rank is its rank among the ranks of its node (MPI_COMM_TYPE_SHARED) modulo the
/// node's visible devices, so `srun --gpus-per-node=G --ntasks-per-node=G` gives one GPU each.
#pragma once

#include <memory>

#include "salm/dist/communicator.hpp"

namespace salm::dist {

/// Whether this salm was built with NCCL (SALM_WITH_NCCL, FindNCCL).
bool nccl_built();

/// A communicator over the ranks of `parent` (collective). Throws UsageError when salm was built
/// without NCCL, RuntimeError naming the host when no CUDA device is visible or NCCL fails.
std::unique_ptr<Communicator> make_nccl_communicator(MPI_Comm parent);

}  // namespace salm::dist
