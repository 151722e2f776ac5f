/// How learnable the noise alone is: a linear probe (softmax regression) fitted to predict the
/// labels from delta only, scored on rows it was not fitted on. Noise that works as a shortcut
/// (error-minimising noise usually does: it is nearly linearly separable by class) scores far above
/// chance; noise a victim cannot use scores near it. `salm inspect --shortcut`.
#pragma once

#include <cstdint>
#include <vector>

namespace salm::eval {

struct ShortcutOptions {
  std::int64_t max_rows = 20000;  ///< rows used at most (evenly spaced over the file)
  double holdout = 0.25;          ///< fraction of those rows scored, never fitted on
  int steps = 300;                ///< full-batch Adam steps of the probe
  std::uint64_t seed = 0;
};

struct ShortcutResult {
  double holdout_accuracy = 0;  ///< the probe's accuracy on the held-out rows
  double fit_accuracy = 0;      ///< and on the rows it was fitted on
  double chance = 0;            ///< the most frequent class's share of the held-out rows
  std::int64_t fit_rows = 0, holdout_rows = 0;
};

/// `delta`: [rows, features] row-major (any layout of a row, the same for every row); `labels`:
/// [rows] single labels in [0, classes). Runs on the CPU, on the calling rank.
ShortcutResult linear_shortcut(const std::vector<float>& delta, const std::vector<std::int64_t>& labels,
                               std::int64_t classes, const ShortcutOptions& opt = {});

}  // namespace salm::eval
