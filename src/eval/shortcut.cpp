#include "salm/eval/shortcut.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <numeric>
#include <random>

#include "salm/core/error.hpp"
#include "salm/core/rng.hpp"

namespace salm::eval {

ShortcutResult linear_shortcut(const std::vector<float>& delta, const std::vector<std::int64_t>& labels,
                               std::int64_t classes, const ShortcutOptions& opt) {
  const auto rows = static_cast<std::int64_t>(labels.size());
  SALM_CHECK(rows >= 2 && classes >= 2 && !delta.empty() && delta.size() % labels.size() == 0,
             "linear_shortcut: {} rows, {} classes, {} values", rows, classes, delta.size());
  const std::int64_t features = static_cast<std::int64_t>(delta.size()) / rows;
  torch::NoGradGuard outer_off;  // re-enabled for the fit below
  auto x = torch::from_blob(const_cast<float*>(delta.data()), {rows, features}, torch::kFloat).clone();
  // Scale-free: the probe sees the noise's pattern, not its budget.
  auto scale = x.abs().max().item<float>();
  if (scale > 0) x.div_(scale);
  auto y = torch::tensor(labels, torch::kLong);

  std::vector<std::int64_t> order(static_cast<std::size_t>(rows));
  std::iota(order.begin(), order.end(), 0);
  Rng engine(derive_seed(opt.seed, {hash_name("shortcut")}));
  std::shuffle(order.begin(), order.end(), engine);
  const std::int64_t held = std::clamp<std::int64_t>(static_cast<std::int64_t>(opt.holdout * static_cast<double>(rows)), 1, rows - 1);
  auto idx = torch::tensor(order, torch::kLong);
  auto fit_idx = idx.slice(0, held), held_idx = idx.slice(0, 0, held);
  auto xf = x.index_select(0, fit_idx), yf = y.index_select(0, fit_idx);
  auto xh = x.index_select(0, held_idx), yh = y.index_select(0, held_idx);

  torch::manual_seed(derive_seed(opt.seed, {hash_name("shortcut-probe")}));
  torch::nn::Linear probe(features, classes);
  torch::optim::Adam adam(probe->parameters(), torch::optim::AdamOptions(1e-2).weight_decay(1e-4));
  {
    torch::AutoGradMode on(true);
    for (int s = 0; s < opt.steps; ++s) {
      adam.zero_grad();
      auto loss = torch::nn::functional::cross_entropy(probe->forward(xf), yf);
      loss.backward();
      adam.step();
    }
  }
  auto accuracy = [&](const at::Tensor& xs, const at::Tensor& ys) {
    return probe->forward(xs).argmax(1).eq(ys).to(torch::kDouble).mean().item<double>();
  };
  ShortcutResult r;
  r.fit_accuracy = accuracy(xf, yf);
  r.holdout_accuracy = accuracy(xh, yh);
  auto counts = torch::bincount(yh, {}, classes);
  r.chance = counts.max().item<double>() / static_cast<double>(held);
  r.fit_rows = rows - held;
  r.holdout_rows = held;
  return r;
}

}  // namespace salm::eval
