/// The protect job's algorithmic part, device- and file-free: this rank's rows as tensors, the
/// source model, the method run on them (the min-min loop, resumable, or a baseline), and the rows
/// of the noise file that come out. The job around it (reading the data, checkpoints, writing the
/// noise file) is app/protect.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

#include <ATen/core/Tensor.h>

#include "salm/core/device.hpp"
#include "salm/core/options.hpp"
#include "salm/data/dataset.hpp"
#include "salm/dist/communicator.hpp"
#include "salm/methods/minmin.hpp"

namespace salm::methods {

/// This rank's rows of the split (`rows`) as tensors on `device`: images float NCHW in [0, 1],
/// labels int64 [n] (float [n, L] 0/1 for multi-label). `total_rows` is the split's size over all
/// ranks. Everything the method makes from the shard lives on the same device.
ShardTensors make_shard(const data::SplitData& rows, const data::DatasetInfo& info, std::int64_t total_rows,
                        const Device& device = Device::cpu());

/// A freshly initialised source model for `opt.model` and the shard's image and class shape,
/// drawn from (seed, "model"): the same on every rank; on the shard's device.
std::shared_ptr<models::Net> make_source_model(const ProtectOptions& opt, const ShardTensors& shard);

/// A state of the shard's shape with nothing set yet (zero noise, no masks): what a checkpoint's
/// rows are read into.
NoiseState empty_state(const ShardTensors& shard);

/// Runs `opt.method` on the shard: the min-min loop for salm and em (from `resume` when given,
/// after `load` restored the model and optimiser), a baseline otherwise (which ignores `resume`).
LoopResult run_method(const ProtectOptions& opt, const ShardTensors& shard, std::shared_ptr<models::Net> model,
                      dist::Communicator& comm, std::optional<NoiseState> resume,
                      const std::function<void(torch::nn::Module&, torch::optim::SGD&)>& load, const LoopHooks& hooks);

/// The noise-file rows of a finished state, copied to the host (io's boundary): /delta as NHWC
/// float, /mask uint8 [n, H, W], /protected = clip(round(255 (x + delta))) uint8 NHWC.
struct NoiseRowsOut {
  at::Tensor delta;
  at::Tensor mask;
  at::Tensor protected_;
};
NoiseRowsOut noise_rows(const ShardTensors& shard, const NoiseState& state);

}  // namespace salm::methods
