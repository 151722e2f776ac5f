#include "salm/core/options.hpp"

#include <cmath>

#include <fmt/format.h>

#include "salm/core/error.hpp"

namespace salm {

namespace {
bool one_of(const std::string& v, std::initializer_list<const char*> names) {
  for (const char* n : names)
    if (v == n) return true;
  return false;
}
}  // namespace

void ProtectOptions::validate() const {
  if (!one_of(method, {"salm", "em", "tap", "sp", "random"}))
    throw UsageError(fmt::format("--method: unknown method '{}' (salm, em, tap, sp, random)", method));
  if (!(k > 0 && k <= 100)) throw UsageError(fmt::format("--k must be in (0, 100], got {}", k));
  if (!(epsilon > 0 && epsilon <= 1)) throw UsageError(fmt::format("--epsilon must be in (0, 255] (1/255 units), got {}", epsilon * 255));
  if (!(step_size > 0)) throw UsageError(fmt::format("--step-size must be positive, got {}", step_size * 255));
  if (pgd_steps < 1) throw UsageError("--pgd-steps must be at least 1");
  if (train_steps < 0) throw UsageError("--train-steps must be >= 0");
  if (max_iters < 1) throw UsageError("--max-iters must be at least 1");
  if (reinit_every < 0) throw UsageError("--reinit-every must be >= 0");
  if (stop_acc < 0 || stop_acc > 1) throw UsageError(fmt::format("--stop-acc must be in [0, 1], got {}", stop_acc));
  if (batch_size < 1) throw UsageError("--batch-size must be at least 1");
  if (!(lr > 0)) throw UsageError("--lr must be positive");
  if (momentum < 0 || momentum >= 1) throw UsageError("--momentum must be in [0, 1)");
  if (weight_decay < 0) throw UsageError("--weight-decay must be >= 0");
  if (!one_of(mask_update, {"every", "once"})) throw UsageError(fmt::format("--mask-update: '{}' (every, once)", mask_update));
  if (!one_of(mask_score, {"gradient", "feasible"}))
    throw UsageError(fmt::format("--mask-score: '{}' (gradient, feasible)", mask_score));
  if (!one_of(mask_scope, {"sample", "class"}))
    throw UsageError(fmt::format("--mask-scope: '{}' (sample, class)", mask_scope));
  if (!one_of(init, {"zero", "uniform", "class", "texture"}))
    throw UsageError(fmt::format("--init: '{}' (zero, uniform, class, texture)", init));
  if (eot_samples < 1) throw UsageError("--eot-samples must be at least 1");
  if (!one_of(eot_transforms, {"none", "flip-crop"}))
    throw UsageError(fmt::format("--eot-transforms: '{}' (none, flip-crop)", eot_transforms));
  if (subset < 0) throw UsageError("--subset must be >= 0");
  if (!one_of(split, {"train", "val", "test"})) throw UsageError(fmt::format("--split: '{}' (train, val, test)", split));
}

std::int64_t ProtectOptions::mask_pixels(std::int64_t pixels) const {
  double kk = masked() ? k : 100.0;
  auto m = static_cast<std::int64_t>(std::ceil(kk / 100.0 * static_cast<double>(pixels) - 1e-9));
  return std::max<std::int64_t>(1, std::min(m, pixels));
}

}  // namespace salm
