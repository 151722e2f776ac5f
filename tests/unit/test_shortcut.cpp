// eval::linear_shortcut, the probe behind `salm inspect --shortcut`: noise that encodes its class
// is found learnable, noise that does not is not.
#include <gtest/gtest.h>

#include <random>

#include "salm/core/error.hpp"
#include "salm/eval/shortcut.hpp"

using namespace salm;

namespace {
/// `rows` rows of `features` values in [-1, 1]; label = row % classes. With `pattern`, each row is
/// its class's fixed sign pattern plus as much i.i.d. noise; without, i.i.d. noise only.
std::pair<std::vector<float>, std::vector<std::int64_t>> noise(int rows, int features, int classes, bool pattern) {
  std::mt19937 g(7);
  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<std::vector<float>> proto(static_cast<std::size_t>(classes));
  for (auto& p : proto)
    for (int f = 0; f < features; ++f) p.push_back(u(g) > 0 ? 0.5f : -0.5f);
  std::vector<float> d;
  std::vector<std::int64_t> l;
  for (int r = 0; r < rows; ++r) {
    l.push_back(r % classes);
    for (int f = 0; f < features; ++f)
      d.push_back((pattern ? proto[static_cast<std::size_t>(r % classes)][static_cast<std::size_t>(f)] : 0.0f) + 0.5f * u(g));
  }
  return {d, l};
}
}  // namespace

TEST(Shortcut, ClassPatternsAreLearnableAndIidNoiseIsNot) {
  auto [pd, pl] = noise(300, 64, 3, true);
  auto p = eval::linear_shortcut(pd, pl, 3);
  EXPECT_GT(p.holdout_accuracy, 0.9) << "class-wise patterns are a linear shortcut";
  EXPECT_EQ(p.fit_rows + p.holdout_rows, 300);
  EXPECT_NEAR(p.chance, 1.0 / 3, 0.1);

  auto [rd, rl] = noise(300, 64, 3, false);
  auto r = eval::linear_shortcut(rd, rl, 3);
  EXPECT_LT(r.holdout_accuracy, r.chance + 0.25) << "i.i.d. noise carries no label";
  EXPECT_GT(r.fit_accuracy, r.holdout_accuracy) << "what it fits on i.i.d. noise does not carry over";

  auto again = eval::linear_shortcut(pd, pl, 3);
  EXPECT_EQ(again.holdout_accuracy, p.holdout_accuracy) << "same seed, same probe";
}

TEST(Shortcut, RefusesTooLittle) {
  EXPECT_THROW(eval::linear_shortcut({1.0f}, {0}, 3), RuntimeError);
}
