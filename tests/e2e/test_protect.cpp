// salm protect end to end on tiny built-in data: the guarantees of every output, determinism,
// 1 vs 2 ranks, checkpoint and resume (deterministic stop points and a real SIGTERM), bad options.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>
#include <tuple>

#include <nlohmann/json.hpp>

#include "salm/data/reader.hpp"
#include "salm/io/h5.hpp"
#include "salm/io/noise_file.hpp"
#include "test_support.hpp"

using namespace salm;
using test::run_salm;

namespace {

const std::string& tiny_data() { return test::tiny().data; }

/// A quick protect command line; `extra` options replace the defaults of the same name.
std::vector<std::string> quick(const std::string& out, std::vector<std::string> extra = {}) {
  const std::vector<std::pair<std::string, std::string>> defaults{
      {"--model", "small-cnn"}, {"--pgd-steps", "3"}, {"--train-steps", "2"}, {"--max-iters", "2"},
      {"--batch-size", "16"},   {"--stop-acc", "0"}};
  std::vector<std::string> a{"protect", "--data", tiny_data(), "--out", out};
  for (const auto& [k, v] : defaults)
    if (std::find(extra.begin(), extra.end(), k) == extra.end()) a.insert(a.end(), {k, v});
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

std::vector<float> read_delta(const std::string& path) { return io::H5File::open_read(path).read_all<float>("/delta"); }

}  // namespace

TEST(Protect, SalmOutputKeepsEveryGuarantee) {
  test::TempDir dir;
  auto r = run_salm(quick(dir.file("n.h5"), {"--report", dir.file("r.json"), "--mask-score", "feasible", "--init", "class"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  test::check_guarantees(dir.file("n.h5"), 10, 8);
  auto f = io::H5File::open_read(dir.file("n.h5"));
  EXPECT_EQ(f.attr_string("/", "method").value(), "salm");
  EXPECT_EQ(f.attr_string("/", "source_sha256").value(), io::sha256_file(tiny_data()));
  EXPECT_EQ(f.attr_int("/", "ranks").value(), 1);
  EXPECT_EQ(f.attr_int("/", "iterations").value(), 2);
  EXPECT_TRUE(f.attr_double("/", "final_train_accuracy").has_value());
  EXPECT_TRUE(f.attr_double("/", "seconds_noise_stage").has_value());
  EXPECT_EQ(f.attr_string("/", "salm_version").value().empty(), false);
  std::ifstream in(dir.file("r.json"));
  auto j = nlohmann::json::parse(in);
  for (const char* k : {"train_stage", "noise_stage", "io", "communication"}) EXPECT_TRUE(j["seconds"].contains(k)) << k;
  EXPECT_GT(j["noise_images_per_second"].get<double>(), 0);
  EXPECT_GT(j["train_images_per_second"].get<double>(), 0);
  EXPECT_EQ(j["rows"], 48);
  // the checkpoint of a finished run is removed; nothing else is left beside the outputs
  EXPECT_EQ(test::list_dir(dir.path()).size(), 2u);
  auto insp = run_salm({"inspect", dir.file("n.h5"), "--json"});
  ASSERT_EQ(insp.exit_code, 0) << insp.err;
  auto ij = nlohmann::json::parse(insp.out);
  EXPECT_EQ(ij["kind"], "noise");
  EXPECT_LE(ij["max_abs_delta_255"].get<double>(), 8.0 + 1e-3);
  EXPECT_NEAR(ij["mask_density"].get<double>(), 26.0 / 256.0, 1e-9);  // ceil(10% of 256) = 26
  EXPECT_EQ(ij["attributes"]["method"], "salm");
}

TEST(Protect, EmHasNoMaskAndOtherBudgets) {
  test::TempDir dir;
  auto r = run_salm(quick(dir.file("em.h5"), {"--method", "em", "--epsilon", "4", "--step-size", "1"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  test::check_guarantees(dir.file("em.h5"), 100, 4);
  r = run_salm(quick(dir.file("k3.h5"), {"--k", "3", "--mask-update", "once", "--init", "texture", "--eot-samples", "2", "--eot-transforms", "flip-crop"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  test::check_guarantees(dir.file("k3.h5"), 3, 8);
}

TEST(Protect, SameSeedSameRanksIsBitIdentical) {
  test::TempDir dir;
  ASSERT_EQ(run_salm(quick(dir.file("a.h5"))).exit_code, 0);
  ASSERT_EQ(run_salm(quick(dir.file("b.h5"))).exit_code, 0);
  EXPECT_EQ(read_delta(dir.file("a.h5")), read_delta(dir.file("b.h5")));
  ASSERT_EQ(run_salm(quick(dir.file("c.h5"), {"--seed", "1"})).exit_code, 0);
  EXPECT_NE(read_delta(dir.file("a.h5")), read_delta(dir.file("c.h5")));
}

TEST(Protect, TwoRanksKeepTheGuaranteesAndAreReproducible) {
  test::TempDir dir;
  auto r = test::run_salm_mpi(2, quick(dir.file("a.h5")));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  test::check_guarantees(dir.file("a.h5"), 10, 8);
  EXPECT_EQ(io::H5File::open_read(dir.file("a.h5")).attr_int("/", "ranks").value(), 2);
  ASSERT_EQ(test::run_salm_mpi(2, quick(dir.file("b.h5"))).exit_code, 0);
  EXPECT_EQ(read_delta(dir.file("a.h5")), read_delta(dir.file("b.h5")));
}

TEST(Protect, ResumeFromEveryKindOfStopPointIsExact) {
  test::TempDir dir;
  ASSERT_EQ(run_salm(quick(dir.file("ref.h5"), {"--no-checkpoint"})).exit_code, 0);
  auto ref = read_delta(dir.file("ref.h5"));
  // stop points: in the train stage, in the noise stage, at the start of the second iteration
  for (const char* stop : {"1", "4", "7"}) {
    std::string out = dir.file(std::string("r") + stop + ".h5");
    auto r = run_salm(quick(out), {std::string("SALM_STOP_AFTER_STEPS=") + stop});
    ASSERT_EQ(r.exit_code, 3) << r.err;
    EXPECT_FALSE(test::file_exists(out));
    EXPECT_TRUE(test::file_exists(out + ".ckpt/latest"));
    r = run_salm(quick(out));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("resuming"), std::string::npos);
    EXPECT_EQ(read_delta(out), ref) << "stop after " << stop;
    EXPECT_FALSE(test::file_exists(out + ".ckpt"));
  }
  // a checkpoint of other options is refused, not silently mixed in
  std::string out = dir.file("mix.h5");
  ASSERT_EQ(run_salm(quick(out), {"SALM_STOP_AFTER_STEPS=2"}).exit_code, 3);
  auto r = run_salm(quick(out, {"--k", "20"}));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("checkpoint"), std::string::npos);
}

TEST(Protect, ActiveSetReportsItsWorkAndTwoRanksResumeItExactly) {
  // Rows stop by both rules (steps of a quarter of the budget reach its edge quickly); two ranks,
  // stopped in the middle of the first noise stage, then resumed: the same noise and the same
  // counts of work as the uninterrupted run.
  test::TempDir dir;
  std::vector<std::string> more{"--pgd-steps", "8", "--step-size", "2", "--k", "30", "--active-change", "0.3",
                                "--active-loss", "1.05"};
  auto more_with = [&](std::vector<std::string> extra) {
    extra.insert(extra.begin(), more.begin(), more.end());
    return extra;
  };
  ASSERT_EQ(test::run_salm_mpi(2, quick(dir.file("ref.h5"), more_with({"--report", dir.file("ref.json")}))).exit_code, 0);
  std::ifstream in(dir.file("ref.json"));
  auto ref = nlohmann::json::parse(in);
  const std::int64_t all = 48 * 8 * 2;  // rows x steps x iterations
  EXPECT_GT(ref["noise_image_steps_skipped"].get<std::int64_t>(), 0);
  EXPECT_EQ(ref["noise_image_steps"].get<std::int64_t>() + ref["noise_image_steps_skipped"].get<std::int64_t>(), all);
  ASSERT_EQ(ref["active_steps"].size(), 2u);
  EXPECT_EQ(ref["active_steps"][1][0], 2);  // [iteration, run, skipped]
  EXPECT_EQ(ref["active_steps"][0][1].get<std::int64_t>() + ref["active_steps"][1][1].get<std::int64_t>(),
            ref["noise_image_steps"].get<std::int64_t>());
  EXPECT_EQ(ref["active_change"], 0.3);
  // The noise file keeps the record too.
  EXPECT_EQ(nlohmann::json::parse(io::H5File::open_read(dir.file("ref.h5")).attr_string("/", "active_steps").value()),
            ref["active_steps"]);

  std::string out = dir.file("res.h5");
  std::vector<std::string> cmd{SALM_MPIEXEC, "-n", "2", SALM_BINARY};
  auto args = quick(out, more_with({"--report", dir.file("res.json")}));
  cmd.insert(cmd.end(), args.begin(), args.end());
  auto first = test::run_process(cmd, {"OMPI_ALLOW_RUN_AS_ROOT=1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1",
                                       "OMPI_MCA_rmaps_base_oversubscribe=1", "OMP_NUM_THREADS=1",
                                       "SALM_STOP_AFTER_STEPS=3"});  // 2 train steps, then 1 of 2 noise batches
  ASSERT_EQ(first.exit_code, 3) << first.err;
  auto second = test::run_salm_mpi(2, args);
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_NE(second.err.find("iteration 1, stage 1, step 1"), std::string::npos) << second.err;
  EXPECT_EQ(read_delta(out), read_delta(dir.file("ref.h5")));
  std::ifstream in2(dir.file("res.json"));
  auto res = nlohmann::json::parse(in2);
  EXPECT_EQ(res["active_steps"], ref["active_steps"]);
  EXPECT_EQ(res["noise_image_steps_skipped"], ref["noise_image_steps_skipped"]);
}

TEST(Protect, ClassScopeSharesMasksWithinAClassOverRanksAndResumesExactly) {
  test::TempDir dir;
  std::string a = dir.file("a.h5");
  auto r = test::run_salm_mpi(2, quick(a, {"--mask-scope", "class"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  test::check_guarantees(a, 10, 8);
  auto f = io::H5File::open_read(a);
  auto mask = f.read_all<std::uint8_t>("/mask");
  auto labels = f.read_all<std::int64_t>("/labels");
  auto d = f.dims("/mask");
  const std::size_t hw = static_cast<std::size_t>(d[1] * d[2]);
  std::map<std::int64_t, std::vector<std::uint8_t>> first;  // the mask of each class's first row
  int different_classes = 0;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    std::vector<std::uint8_t> m(mask.begin() + static_cast<long>(i * hw), mask.begin() + static_cast<long>((i + 1) * hw));
    auto [it, inserted] = first.emplace(labels[i], m);
    if (!inserted) EXPECT_EQ(m, it->second) << "row " << i << " (rows 0-23 on rank 0, 24-47 on rank 1)";
  }
  for (auto it = first.begin(); std::next(it) != first.end(); ++it) different_classes += it->second != std::next(it)->second;
  EXPECT_GT(different_classes, 0) << "every class has the same mask: the pool is not per class";
  EXPECT_EQ(f.attr_string("/", "mask_scope").value_or(""), "class");

  // The pool is fixed at the start of a noise stage: a run stopped inside one resumes exactly.
  ASSERT_EQ(run_salm(quick(dir.file("ref.h5"), {"--mask-scope", "class", "--no-checkpoint"})).exit_code, 0);
  std::string out = dir.file("resumed.h5");
  r = run_salm(quick(out, {"--mask-scope", "class"}), {"SALM_STOP_AFTER_STEPS=4"});  // 2 train steps, then noise batch 2 of 3
  ASSERT_EQ(r.exit_code, 3) << r.err;
  r = run_salm(quick(out, {"--mask-scope", "class"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("resuming"), std::string::npos);
  EXPECT_EQ(read_delta(out), read_delta(dir.file("ref.h5")));
}

TEST(Protect, ReinitialisedSourceIsDeterministicAndResumesExactly) {
  test::TempDir dir;
  std::string ref = dir.file("ref.h5");
  auto r = run_salm(quick(ref, {"--reinit-every", "1", "--max-iters", "3", "--no-checkpoint"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  test::check_guarantees(ref, 10, 8);
  auto f = io::H5File::open_read(ref);
  EXPECT_EQ(f.attr_int("/", "reinit_every").value_or(0), 1);
  // Without the fresh models the loop trains another source: other noise.
  std::string plain = dir.file("plain.h5");
  ASSERT_EQ(run_salm(quick(plain, {"--max-iters", "3", "--no-checkpoint"})).exit_code, 0);
  EXPECT_NE(read_delta(plain), read_delta(ref));
  // One iteration is 2 train steps and 3 noise batches: stop at the end of iteration 0 (before the
  // fresh model of iteration 1) and one train step after it; both resume to the same noise.
  for (const char* stop : {"SALM_STOP_AFTER_STEPS=5", "SALM_STOP_AFTER_STEPS=6"}) {
    SCOPED_TRACE(stop);
    std::string out = dir.file(std::string("resumed-") + stop[22] + ".h5");
    auto a = quick(out, {"--reinit-every", "1", "--max-iters", "3"});
    r = run_salm(a, {stop});
    ASSERT_EQ(r.exit_code, 3) << r.err;
    r = run_salm(a);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("resuming"), std::string::npos);
    EXPECT_EQ(read_delta(out), read_delta(ref));
  }
  // Two ranks draw the same fresh models (seeded, then broadcast): the guarantees hold there too.
  std::string two = dir.file("two.h5");
  r = test::run_salm_mpi(2, quick(two, {"--reinit-every", "1", "--max-iters", "3", "--no-checkpoint"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  test::check_guarantees(two, 10, 8);
}

TEST(Protect, BaselinesKeepTheGuaranteesAndRandomAndSpDoNotDependOnRanks) {
  test::TempDir dir;
  for (const auto& [name, extra, k] : std::vector<std::tuple<std::string, std::vector<std::string>, double>>{
           {"random", {"--method", "random"}, 10}, {"random100", {"--method", "random", "--k", "100"}, 100},
           {"sp", {"--method", "sp"}, 100}, {"tap", {"--method", "tap", "--epsilon", "4", "--step-size", "1"}, 100}}) {
    SCOPED_TRACE(name);
    std::string one = dir.file(name + "-1.h5"), two = dir.file(name + "-2.h5");
    auto r = run_salm(quick(one, extra));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    test::check_guarantees(one, k, name == "tap" ? 4 : 8);
    EXPECT_FALSE(test::file_exists(one + ".ckpt")) << "baselines write no checkpoint";
    auto f = io::H5File::open_read(one);
    EXPECT_EQ(f.attr_string("/", "method").value_or(""), extra[1]);
    auto delta = read_delta(one);
    EXPECT_GT(*std::max_element(delta.begin(), delta.end()), 0.0f) << "no noise at all";
    r = test::run_salm_mpi(2, quick(two, extra));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    test::check_guarantees(two, k, name == "tap" ? 4 : 8);
    if (name != "tap") EXPECT_EQ(read_delta(two), delta) << "no model: 1 and 2 ranks give the same noise";
  }
}

TEST(Protect, SyntheticShortcutsAreClassWiseOnGreyOddSizedImages) {
  test::TempDir dir;
  std::string data = dir.file("grey.h5"), out = dir.file("sp.h5");
  ASSERT_EQ(run_salm({"synth", "--out", data, "--classes", "3", "--train", "30", "--val", "0", "--test", "6", "--size", "20",
                      "--channels", "1"}).exit_code, 0);
  auto r = run_salm({"protect", "--data", data, "--out", out, "--method", "sp"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto f = io::H5File::open_read(out);
  auto delta = f.read_all<float>("/delta");
  auto labels = f.read_all<std::int64_t>("/labels");
  const std::size_t px = 20 * 20;
  auto cosine = [&](std::size_t a, std::size_t b) {
    double ab = 0, aa = 0, bb = 0;
    for (std::size_t p = 0; p < px; ++p) {
      double x = delta[a * px + p], y = delta[b * px + p];
      ab += x * y, aa += x * x, bb += y * y;
    }
    return ab / std::sqrt(aa * bb + 1e-30);
  };
  double same = 0, other = 0;
  int n_same = 0, n_other = 0;
  for (std::size_t a = 0; a < labels.size(); ++a)
    for (std::size_t b = a + 1; b < labels.size(); ++b) {
      // Rows whose noise the [0,1] clip left mostly intact: compare where the pattern is whole.
      if (labels[a] == labels[b]) same += cosine(a, b), ++n_same;
      else other += cosine(a, b), ++n_other;
    }
  EXPECT_GT(same / n_same, 0.5) << "rows of one class should share their class's pattern";
  EXPECT_LT(std::abs(other / n_other), same / n_same - 0.3) << "patterns of different classes should differ";
}

TEST(Protect, ClassScopeRefusesMultiLabelData) {
  std::string npz = test::fixture("fashion_multilabel_stored.npz");
  if (npz.empty()) GTEST_SKIP() << "no fixtures directory";
  test::TempDir dir;
  auto r = run_salm({"protect", "--data", npz, "--out", dir.file("x.h5"), "--model", "small-cnn", "--subset", "32",
                     "--mask-scope", "class", "--max-iters", "1", "--train-steps", "1", "--pgd-steps", "1"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  auto lines = test::error_lines(r.err);
  ASSERT_EQ(lines.size(), 1u) << r.err;
  EXPECT_NE(lines[0].find("multi-label"), std::string::npos) << lines[0];
  EXPECT_TRUE(test::list_dir(dir.path()).empty());
}

TEST(Protect, TwoRankRunInterruptedBySigtermResumesToTheSameNoise) {
  test::TempDir dir;
  std::vector<std::string> more{"--max-iters", "3"};
  auto ref = test::run_salm_mpi(2, quick(dir.file("ref.h5"), more));
  ASSERT_EQ(ref.exit_code, 0) << ref.err;
  std::string out = dir.file("res.h5"), paused = dir.file("paused");
  std::vector<std::string> cmd{SALM_MPIEXEC, "-n", "2", SALM_BINARY};
  auto args = quick(out, more);
  cmd.insert(cmd.end(), args.begin(), args.end());
  // The testing aid makes each rank wait at its 5th step boundary (iteration 2's first train
  // step, after iteration 1's checkpoint) for a signal, and write its pid into `paused`: the
  // signal arrives at a known point, never after the run has finished.
  test::RunResult first;
  std::thread runner([&] {
    first = test::run_process(cmd, {"OMPI_ALLOW_RUN_AS_ROOT=1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1",
                                    "OMPI_MCA_rmaps_base_oversubscribe=1", "OMP_NUM_THREADS=1",
                                    "SALM_TEST_PAUSE_AT_STEP=5", "SALM_TEST_PAUSED_FILE=" + paused});
  });
  std::vector<pid_t> ranks;
  for (auto t0 = std::chrono::steady_clock::now();
       ranks.size() < 2 && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(120);) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ranks.clear();
    std::istringstream pids(test::file_exists(paused) ? test::read_file(paused) : "");
    for (pid_t p; pids >> p;) ranks.push_back(p);
  }
  ASSERT_EQ(ranks.size(), 2u) << "the ranks never paused";
  for (pid_t p : ranks) kill(p, SIGTERM);  // as Slurm signals every task
  runner.join();
  EXPECT_EQ(first.exit_code, 3) << first.err;
  EXPECT_NE(first.err.find("checkpoint written"), std::string::npos) << first.err;
  EXPECT_FALSE(test::file_exists(out));
  auto second = test::run_salm_mpi(2, args);
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_NE(second.err.find("resuming from checkpoint"), std::string::npos);
  EXPECT_NE(second.err.find("iteration 2, stage 0, step 1"), std::string::npos) << second.err;
  EXPECT_EQ(read_delta(out), read_delta(dir.file("ref.h5")));
}

TEST(Protect, BadOptionsAreUsageErrors) {
  test::TempDir dir;
  std::string out = dir.file("x.h5");
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases{
      {{"--k", "0"}, "--k"},          {{"--k", "101"}, "--k"},
      {{"--epsilon", "0"}, "--epsilon"}, {{"--epsilon", "-2"}, "--epsilon"},
      {{"--model", "alexnet"}, "unknown model"}, {{"--method", "magic"}, "method"},
      {{"--split", "val"}, "missing split 'val'"}, {{"--pgd-steps", "0"}, "--pgd-steps"},
      {{"--mask-update", "sometimes"}, "mask-update"}, {{"--init", "ones"}, "--init"},
      {{"--mask-scope", "image"}, "--mask-scope"}, {{"--reinit-every", "-1"}, "--reinit-every"}};
  for (const auto& [extra, needle] : cases) {
    auto r = run_salm(quick(out, extra));
    EXPECT_EQ(r.exit_code, 2) << extra[0] << " " << extra[1] << ": " << r.err;
    auto lines = test::error_lines(r.err);
    ASSERT_EQ(lines.size(), 1u) << r.err;
    EXPECT_NE(lines[0].find(needle), std::string::npos) << lines[0];
  }
  EXPECT_TRUE(test::list_dir(dir.path()).empty());
  auto r = run_salm({"protect", "--data", dir.file("missing.h5"), "--out", out});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("missing.h5"), std::string::npos);
}

TEST(Evaluate, VictimOnCleanAndProtectedData) {
  test::TempDir dir;
  ASSERT_EQ(run_salm(quick(dir.file("n.h5"))).exit_code, 0);
  const std::vector<std::string> victim{"--model", "small-cnn", "--epochs", "2", "--batch-size", "16"};
  for (const bool protected_ : {false, true}) {
    std::vector<std::string> a{"evaluate", "--data", tiny_data(), "--report", dir.file("r.json"), "--curve",
                               dir.file("c.csv"), "--overwrite"};
    a.insert(a.end(), victim.begin(), victim.end());
    if (protected_) a.insert(a.end(), {"--noise", dir.file("n.h5"), "--optimizer", "adam", "--augment", "flip-crop"});
    auto r = run_salm(a);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::ifstream in(dir.file("r.json"));
    auto j = nlohmann::json::parse(in);
    EXPECT_EQ(j["trained_on"], protected_ ? "protected" : "clean");
    EXPECT_EQ(j["train_rows"], 48);
    EXPECT_EQ(j["test_rows"], 24);
    EXPECT_NEAR(j["chance_accuracy"].get<double>(), 8.0 / 24.0, 1e-9);  // 3 balanced classes
    for (const char* k : {"clean_test_accuracy", "best_test_accuracy"}) {
      EXPECT_GE(j[k].get<double>(), 0.0);
      EXPECT_LE(j[k].get<double>(), 1.0);
    }
    EXPECT_GE(j["best_test_accuracy"].get<double>(), j["clean_test_accuracy"].get<double>());
    EXPECT_EQ(j["curve"].size(), 2u);
    auto csv = test::read_file(dir.file("c.csv"));
    EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 3);
  }
  // two ranks train the same victim as one (same global batches): same report shape, exit 0
  auto r2 = test::run_salm_mpi(2, {"evaluate", "--data", tiny_data(), "--noise", dir.file("n.h5"), "--model", "small-cnn",
                                   "--epochs", "1", "--batch-size", "16"});
  EXPECT_EQ(r2.exit_code, 0) << r2.err;
  // a noise file of other data, a dataset instead of a noise file, a bad option: exit 2, one line
  ASSERT_EQ(run_salm({"synth", "--out", dir.file("other.h5"), "--classes", "3", "--train", "48", "--val", "0", "--test",
                      "24", "--size", "16", "--seed", "7"}).exit_code, 0);
  for (const auto& bad : std::vector<std::vector<std::string>>{
           {"--data", dir.file("other.h5"), "--noise", dir.file("n.h5")},
           {"--data", tiny_data(), "--noise", tiny_data()},
           {"--data", tiny_data(), "--optimizer", "rmsprop"}}) {
    std::vector<std::string> a{"evaluate"};
    a.insert(a.end(), bad.begin(), bad.end());
    a.insert(a.end(), victim.begin(), victim.end());
    auto r = run_salm(a);
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_EQ(test::error_lines(r.err).size(), 1u) << r.err;
  }
}

TEST(Evaluate, ValSplitIsTheYardstickWhenAsked) {
  test::TempDir dir;
  std::string data = dir.file("v.h5");
  ASSERT_EQ(run_salm({"synth", "--out", data, "--classes", "3", "--train", "48", "--val", "15", "--test", "24", "--size", "16"})
                .exit_code, 0);
  std::vector<std::string> q = quick(dir.file("n.h5"));
  q[2] = data;  // protect the train split of this dataset
  ASSERT_EQ(run_salm(q).exit_code, 0);
  const std::vector<std::string> victim{"--model", "small-cnn", "--epochs", "1", "--batch-size", "16"};
  auto eval = [&](std::vector<std::string> extra) {
    std::vector<std::string> a{"evaluate", "--data", data, "--report", dir.file("r.json"), "--overwrite"};
    a.insert(a.end(), victim.begin(), victim.end());
    a.insert(a.end(), extra.begin(), extra.end());
    return run_salm(a);
  };
  for (const char* split : {"val", "test"}) {
    auto r = eval({"--noise", dir.file("n.h5"), "--eval-split", split});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find(std::string("clean ") + split + " accuracy"), std::string::npos) << r.err;
    auto j = nlohmann::json::parse(test::read_file(dir.file("r.json")));
    EXPECT_EQ(j["eval_split"], split);
    EXPECT_EQ(j["test_rows"], std::string(split) == "val" ? 15 : 24);  // the figures are the chosen split's
  }
  // a split that is not there, a split that is not a held-out one, the split the noise protects: refused
  test::expect_one_error(run_salm({"evaluate", "--data", tiny_data(), "--eval-split", "val", "--model", "small-cnn"}), "'val'");
  test::expect_one_error(eval({"--eval-split", "train"}), "--eval-split");
  auto qv = quick(dir.file("nv.h5"), {"--split", "val"});
  qv[2] = data;
  ASSERT_EQ(run_salm(qv).exit_code, 0);
  test::expect_one_error(eval({"--noise", dir.file("nv.h5"), "--eval-split", "val"}), "nv.h5");
  EXPECT_FALSE(test::file_exists(dir.file("r.json.partial")));
}

TEST(Protect, ASecondRunOnTheSameOutputIsRefusedAtOnce) {
  test::TempDir dir;
  std::string out = dir.file("n.h5"), paused = dir.file("paused");
  std::vector<std::string> cmd{SALM_BINARY};
  auto args = quick(out);
  cmd.insert(cmd.end(), args.begin(), args.end());
  // The first run waits at its 2nd step boundary until it is signalled.
  test::RunResult first;
  std::thread runner([&] {
    first = test::run_process(cmd, {"SALM_TEST_PAUSE_AT_STEP=2", "SALM_TEST_PAUSED_FILE=" + paused});
  });
  pid_t pid = 0;
  for (auto t0 = std::chrono::steady_clock::now();
       pid == 0 && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(60);) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (test::file_exists(paused)) pid = static_cast<pid_t>(std::atoi(test::read_file(paused).c_str()));
  }
  ASSERT_GT(pid, 0) << "the first run never paused";
  // A second run with the same --out, or only the same checkpoint directory: refused at once.
  for (const auto& target : std::vector<std::pair<std::string, std::vector<std::string>>>{
           {out, {}}, {dir.file("other.h5"), {"--checkpoint-dir", out + ".ckpt"}}}) {
    auto a = quick(target.first, target.second);
    auto t0 = std::chrono::steady_clock::now();
    auto second = run_salm(a);
    EXPECT_EQ(second.exit_code, 2) << second.err;
    auto lines = test::error_lines(second.err);
    ASSERT_EQ(lines.size(), 1u) << second.err;
    EXPECT_NE(lines[0].find("in use by another salm run"), std::string::npos) << lines[0];
    EXPECT_NE(lines[0].find(std::to_string(pid)), std::string::npos) << lines[0];
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(20));
  }
  kill(pid, SIGTERM);
  runner.join();
  EXPECT_EQ(first.exit_code, 3) << first.err;
  EXPECT_FALSE(test::file_exists(out + ".lock"));
  EXPECT_FALSE(test::file_exists(dir.file("other.h5")));
  // An unfinished OUT.partial (a killed run's) is refused before any work.
  test::write_file(dir.file("p.h5.partial"), "left over");
  auto r = run_salm(quick(dir.file("p.h5")));
  EXPECT_EQ(r.exit_code, 2);
  auto lines = test::error_lines(r.err);
  ASSERT_EQ(lines.size(), 1u) << r.err;
  EXPECT_NE(lines[0].find("p.h5.partial exists"), std::string::npos) << lines[0];
}
