/// The min-min loop's state (methods) to and from a checkpoint (io): the two modules know nothing
/// of each other, so the mapping lives here, for app::protect and the tests of the round trip.
#pragma once

#include <string>

#include "salm/io/checkpoint.hpp"
#include "salm/methods/minmin.hpp"

namespace salm::app {

/// The metadata of a checkpoint of `state` (its position and accuracy) for a run of `fingerprint`.
io::CheckpointMeta checkpoint_meta(const methods::NoiseState& state, const std::string& fingerprint);

/// The loop state of checkpoint `meta`: this rank's rows of it (those of `shard`) and its position.
methods::NoiseState resume_state(const io::CheckpointStore& store, const io::CheckpointMeta& meta,
                                 const methods::ShardTensors& shard);

}  // namespace salm::app
