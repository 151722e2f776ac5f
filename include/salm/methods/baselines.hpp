/// The baselines of the paper's tables, sharing the noise-file format and guarantees of
/// `salm protect` (DESIGN.md section 2):
///  - random: uniform noise in [-eps, eps], on a random k% mask (the control of SALM's budget;
///    --k 100: the whole image);
///  - sp: synthetic shortcut noise (Yu et al. 2022): one Gaussian cluster per class in a
///    low-dimensional patch space, each row a sample of its class's cluster, upsampled into
///    blocks over the image, scaled to the energy of a full +-eps pattern and clipped to eps;
///    no model;
///  - tap: targeted adversarial poisoning (Fowl et al. 2021): a source model trained on clean
///    data, then targeted PGD towards class (y+1) mod C (multi-label: every label flipped).
/// random and sp run no model and no collective; tap all-reduces its training gradients like the
/// min-min loop. Their results come back as a LoopResult so that one writer serves every method.
#pragma once

#include <memory>

#include "salm/methods/minmin.hpp"

namespace salm::methods {

/// Runs the baseline `opt.method` on this rank's rows. `model` is used by tap only (may be null
/// otherwise). `hooks.stop_requested` is polled by tap between steps; a stopped tap run returns
/// `interrupted` without a checkpoint (baselines are not resumable: they are short).
LoopResult run_baseline(const ProtectOptions& opt, const ShardTensors& shard, std::shared_ptr<models::Net> model,
                        dist::Communicator& comm, const LoopHooks& hooks);

}  // namespace salm::methods
