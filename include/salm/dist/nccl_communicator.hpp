/// The NCCL backend of the Communicator (the CUDA variant only): tensor collectives (gradient
/// buckets, model broadcast, class pools) run through NCCL on this rank's GPU, on LibTorch's
/// current CUDA stream, in place on the device tensors, one flat bucket per dtype; scalars,
/// strings and barriers stay on MPI, which also bootstraps NCCL (rank 0's unique id is broadcast
/// over MPI). One rank without MPI makes its own id.
///
/// The rank's GPU is chosen once, in cli (--device: node-local rank modulo the visible GPUs), and
/// passed in. A failed NCCL call aborts the communicator (ncclCommAbort) and throws naming the
/// rank, the host and the call, so that the job ends instead of hanging in a collective.
#pragma once

#include <memory>
#include <string>

#include "salm/core/device.hpp"
#include "salm/dist/communicator.hpp"

namespace salm::dist {

/// Whether this salm was built with NCCL (the CUDA variant, SALM_WITH_NCCL).
bool nccl_built();

/// "2.28.9", or "" when not built with NCCL.
std::string nccl_version();

/// A communicator over the ranks of `parent` (collective; MPI_COMM_NULL: this process alone) on
/// the CUDA device `device`. Throws UsageError when salm was built without NCCL or `device` is the
/// CPU, RuntimeError naming the rank and host when NCCL fails.
std::unique_ptr<Communicator> make_nccl_communicator(MPI_Comm parent, const Device& device);

}  // namespace salm::dist
