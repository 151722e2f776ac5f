// The point of the product, end to end: a victim of another architecture than the source learns
// far less from the protected copy than from the clean one. One rank here; the same check with
// 2 ranks is the README's worked example (docs.worked_example, tests/docs/check_docs.py), which
// runs this setting under mpirun -n 2 and asserts the same bounds.
//
// Built-in data (1,000 train rows of 28x28x3, 9 classes), the strong profile
// (configs/protect-small-cnn-strong.ini: small-CNN source, k = 30%, eps = 8/255), a VGG-11 victim
// (Adam, 8 epochs) trained on the uint8 /protected images and tested on the clean test split.
// Measured on this setting over protect seeds 0-4 (docs/results/2026-12-ranks-and-seeds.md): clean 81.6%,
// protected 18.8-41.8% with either rank count. The bounds below leave a margin for other CPUs'
// floating point, not for a protection that stopped working: a broken min-min leaves the victim
// near its clean accuracy.
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "test_support.hpp"

using namespace salm;

namespace {

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

/// Trains the VGG-11 victim (1 rank) on the clean data or on `noise`'s protected images; its report.
void victim(const test::TempDir& dir, const std::string& data, const std::string& noise, const std::string& name,
            nlohmann::json& report) {
  std::vector<std::string> a{"evaluate", "--data",  data,     "--model",  "vgg11",         "--optimizer",
                             "adam",     "--epochs", "8",     "--report", dir.file(name), "--log-level",
                             "warn"};
  if (!noise.empty()) a.insert(a.end(), {"--noise", noise});
  auto r = test::run_salm(a);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  report = read_json(dir.file(name));
}

}  // namespace

TEST(Effectiveness, StrongProfileTakesMostOfAVictimsAccuracyAway) {
  test::TempDir dir;
  const std::string data = dir.file("d.h5");
  auto s = test::run_salm({"synth", "--out", data, "--train", "1000", "--val", "0", "--test", "500"});
  ASSERT_EQ(s.exit_code, 0) << s.err;

  nlohmann::json clean;
  ASSERT_NO_FATAL_FAILURE(victim(dir, data, "", "clean.json", clean));
  const double clean_acc = clean["clean_test_accuracy"].get<double>();
  const double chance = clean["chance_accuracy"].get<double>();
  std::cout << "clean: victim " << clean_acc << " (chance " << chance << ")\n";
  ASSERT_GE(clean_acc, 0.70) << "the victim does not learn the clean data: the test says nothing";

  const std::string noise = dir.file("n.h5");
  auto r = test::run_salm({"protect", "--data", data, "--out", noise, "--config",
                           SALM_CONFIGS_DIR "/protect-small-cnn-strong.ini", "--no-checkpoint", "--report",
                           noise + ".json", "--log-level", "warn"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto p = read_json(noise + ".json");
  // The min-min did its job: the source fits x + delta.
  EXPECT_GE(p["final_train_accuracy"].get<double>(), 0.99);

  nlohmann::json v;
  ASSERT_NO_FATAL_FAILURE(victim(dir, data, noise, "v.json", v));
  const double acc = v["clean_test_accuracy"].get<double>(), best = v["best_test_accuracy"].get<double>();
  const double fit = v["curve"].back()["train_accuracy"].get<double>();
  std::cout << "source fit " << p["final_train_accuracy"] << " in " << p["iterations"] << " iterations; victim "
            << acc << " (best epoch " << best << ", train accuracy " << fit << ")\n";
  // The victim fits the protected images (they are learnable: a shortcut) ...
  EXPECT_GE(fit, 0.90);
  // ... and that takes most of its clean test accuracy away, at its last epoch and at its best.
  EXPECT_LE(acc, clean_acc - 0.25);
  EXPECT_LE(best, clean_acc - 0.20);
}
