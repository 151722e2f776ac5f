#include "salm/methods/protect.hpp"

#include <torch/torch.h>

#include "salm/core/rng.hpp"
#include "salm/data/tensors.hpp"
#include "salm/methods/baselines.hpp"
#include "salm/models/device.hpp"

namespace salm::methods {

ShardTensors make_shard(const data::SplitData& rows, const data::DatasetInfo& info, std::int64_t total_rows,
                        const Device& device) {
  ShardTensors s;
  const auto d = models::to_torch(device);
  s.x = data::images_to_tensor(rows).to(d);
  s.multi_label = info.task == data::Task::multi_label;
  s.y = data::labels_to_tensor(rows, s.multi_label).to(d);
  s.row_begin = rows.row_begin;
  s.total_rows = total_rows;
  s.num_classes = info.num_classes;
  return s;
}

std::shared_ptr<models::Net> make_source_model(const ProtectOptions& opt, const ShardTensors& shard) {
  torch::manual_seed(derive_seed(opt.seed, {hash_name("model")}));
  auto model = models::make_model({opt.model, shard.x.size(1), shard.x.size(2), shard.num_classes});
  model->to(shard.x.device());  // before any optimiser holds its parameters
  return model;
}

NoiseState empty_state(const ShardTensors& shard) {
  NoiseState st;
  st.delta = torch::zeros_like(shard.x);
  const auto u8 = shard.x.options().dtype(torch::kUInt8);
  st.mask = torch::zeros({shard.x.size(0), shard.x.size(2), shard.x.size(3)}, u8);
  st.masked = torch::zeros({shard.x.size(0)}, u8);
  return st;
}

LoopResult run_method(const ProtectOptions& opt, const ShardTensors& shard, std::shared_ptr<models::Net> model,
                      dist::Communicator& comm, std::optional<NoiseState> resume,
                      const std::function<void(torch::nn::Module&, torch::optim::SGD&)>& load, const LoopHooks& hooks) {
  if (!opt.min_min()) return run_baseline(opt, shard, std::move(model), comm, hooks);
  MinMin loop(opt, std::move(model), comm);
  return loop.run(shard, std::move(resume), load, hooks);
}

NoiseRowsOut noise_rows(const ShardTensors& shard, const NoiseState& state) {
  return {state.delta.permute({0, 2, 3, 1}).contiguous().cpu(), state.mask.contiguous().cpu(),
          protected_images(shard.x, state.delta).cpu()};
}

}  // namespace salm::methods
