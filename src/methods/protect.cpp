#include "salm/methods/protect.hpp"

#include <torch/torch.h>

#include "salm/core/rng.hpp"
#include "salm/data/tensors.hpp"
#include "salm/methods/baselines.hpp"

namespace salm::methods {

ShardTensors make_shard(const data::SplitData& rows, const data::DatasetInfo& info, std::int64_t total_rows) {
  ShardTensors s;
  s.x = data::images_to_tensor(rows);
  s.multi_label = info.task == data::Task::multi_label;
  s.y = data::labels_to_tensor(rows, s.multi_label);
  s.row_begin = rows.row_begin;
  s.total_rows = total_rows;
  s.num_classes = info.num_classes;
  return s;
}

std::shared_ptr<models::Net> make_source_model(const ProtectOptions& opt, const ShardTensors& shard) {
  torch::manual_seed(derive_seed(opt.seed, {hash_name("model")}));
  return models::make_model({opt.model, shard.x.size(1), shard.x.size(2), shard.num_classes});
}

NoiseState empty_state(const ShardTensors& shard) {
  NoiseState st;
  st.delta = torch::zeros_like(shard.x);
  st.mask = torch::zeros({shard.x.size(0), shard.x.size(2), shard.x.size(3)}, torch::kUInt8);
  st.masked = torch::zeros({shard.x.size(0)}, torch::kUInt8);
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
  return {state.delta.permute({0, 2, 3, 1}).contiguous(), state.mask.contiguous(), protected_images(shard.x, state.delta)};
}

}  // namespace salm::methods
