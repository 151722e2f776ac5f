// The salm binary end to end: help, exit codes, synth -> inspect, convert, and the same results
// with 2 MPI ranks as with 1.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "salm/data/reader.hpp"
#include "test_support.hpp"

using namespace salm;
using test::run_salm;

namespace {
nlohmann::json inspect_json(const std::string& path) {
  auto r = run_salm({"inspect", path, "--json"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return nlohmann::json::parse(r.out);
}
const std::vector<std::string> kTiny{"--train", "45", "--val", "9", "--test", "18"};
}  // namespace

TEST(Cli, HelpOnEverySubcommand) {
  auto top = run_salm({"--help"});
  EXPECT_EQ(top.exit_code, 0);
  for (const char* sub : {"synth", "convert", "inspect"}) {
    EXPECT_NE(top.out.find(sub), std::string::npos);
    auto r = run_salm({sub, "--help"});
    EXPECT_EQ(r.exit_code, 0) << sub;
    EXPECT_NE(r.out.find("--config"), std::string::npos) << sub;
    EXPECT_NE(r.out.find("Usage:"), std::string::npos) << sub;
  }
  EXPECT_EQ(run_salm({"--version"}).exit_code, 0);
}

TEST(Cli, UsageErrorsExitTwoWithOneLine) {
  for (std::vector<std::string> args : {std::vector<std::string>{"frobnicate"}, {"synth"}, {"synth", "--out"},
                                        {"synth", "--out", "x.h5", "--classes", "many"},
                                        {"synth", "--out", "x.h5", "--channels", "2"},
                                        {"synth", "--out", "x.h5", "--log-level", "loud"},
                                        {"synth", "--out", "x.h5", "--threads", "-1"},
                                        {"synth", "--out", "x.h5", "--config", "/tmp"},
                                        {"convert", "--in", "a.npz", "--out", "b.h5", "--task", "regression"}}) {
    auto r = run_salm(args);
    EXPECT_EQ(r.exit_code, 2) << args[0] << " " << r.err;
    EXPECT_EQ(test::error_lines(r.err).size(), 1u) << r.err;
  }
  EXPECT_FALSE(test::file_exists("x.h5"));
  EXPECT_EQ(run_salm({}).exit_code, 2);
}

TEST(Cli, DeviceAndCommAreCheckedBeforeAnyWork) {
  test::TempDir dir;
  auto data = test::tiny().data;
  auto protect = [&](std::vector<std::string> extra) {
    std::vector<std::string> a{"protect", "--data", data, "--out", dir.file("n.h5"), "--model", "small-cnn",
                               "--max-iters", "1", "--train-steps", "1", "--pgd-steps", "1", "--batch-size", "16"};
    a.insert(a.end(), extra.begin(), extra.end());
    return run_salm(a);
  };
  const bool gpu = run_salm({"--version"}).out.find("cuda:0") != std::string::npos;
  std::vector<std::pair<std::vector<std::string>, std::string>> refused{
      {{"--device", "gpu"}, "--device: unknown value 'gpu'"},
      {{"--device", "cuda:x"}, "--device cuda:x"},
      {{"--device", "cuda:99"}, "--device cuda:99"},
      {{"--comm", "pigeon"}, "--comm: unknown value 'pigeon'"},
      {{"--device", "cpu", "--comm", "nccl"}, "--comm nccl needs a CUDA device"},
      {{"--device", "cpu", "--precision", "bf16"}, "--precision bf16 needs a CUDA device"}};
  if (!gpu) {  // this machine: a GPU asked for is one clear line, exit 2, nothing written
    refused.push_back({{"--device", "cuda"}, "--device cuda:"});
    refused.push_back({{"--comm", "nccl"}, "--comm nccl needs a CUDA device"});
  }
  for (const auto& [extra, needle] : refused) {
    auto r = protect(extra);
    EXPECT_EQ(r.exit_code, 2) << extra[0] << " " << extra[1] << ": " << r.err;
    auto lines = test::error_lines(r.err);
    ASSERT_EQ(lines.size(), 1u) << r.err;
    EXPECT_NE(lines[0].find(needle), std::string::npos) << lines[0];
  }
  EXPECT_TRUE(test::list_dir(dir.path()).empty());
  // --device and --comm belong to the subcommands that train models only.
  EXPECT_EQ(run_salm({"synth", "--out", dir.file("s.h5"), "--device", "cpu"}).exit_code, 2);
  // The CPU always works; a visible GPU too.
  auto r = protect({"--device", "cpu", "--comm", "mpi"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  if (gpu) {
    r = protect({"--device", "cuda", "--overwrite"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
  }
}

TEST(Cli, SynthThenInspect) {
  test::TempDir dir;
  std::string out = dir.file("s.h5");
  std::vector<std::string> args{"synth", "--out", out, "--classes", "9"};
  args.insert(args.end(), kTiny.begin(), kTiny.end());
  auto r = run_salm(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(test::list_dir(dir.path()), std::vector<std::string>{"s.h5"});  // no .partial left
  auto j = inspect_json(out);
  EXPECT_EQ(j["num_classes"], 9);
  EXPECT_EQ(j["task"], "multi-class");
  EXPECT_EQ(j["splits"]["train"]["rows"], 45);
  EXPECT_EQ(j["splits"]["train"]["class_counts"], std::vector<int>(9, 5));
  EXPECT_EQ(j["splits"]["test"]["rows"], 18);
  EXPECT_GT(j["splits"]["train"]["background_fraction"].get<double>(), 0.6);
  auto text = run_salm({"inspect", out});
  EXPECT_EQ(text.exit_code, 0);
  EXPECT_NE(text.out.find("train"), std::string::npos);
  EXPECT_NE(text.out.find("28x28x3"), std::string::npos);
  // an existing output is never replaced silently
  auto again = run_salm(args);
  EXPECT_EQ(again.exit_code, 2);
  EXPECT_NE(again.err.find("--overwrite"), std::string::npos);
}

TEST(Cli, SettingsFromConfigAndEnvironment) {
  test::TempDir dir;
  test::write_file(dir.file("c.ini"), "[synth]\ntrain = 18\nval = 0\ntest = 9\nclasses = 3\nseed = 5\n");
  auto r = run_salm({"synth", "--config", dir.file("c.ini"), "--out", dir.file("a.h5")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = inspect_json(dir.file("a.h5"));
  EXPECT_EQ(j["splits"]["train"]["rows"], 18);
  EXPECT_EQ(j["num_classes"], 3);
  EXPECT_FALSE(j["splits"].contains("val"));
  // environment beats the config, the command line beats both
  r = run_salm({"synth", "--config", dir.file("c.ini"), "--out", dir.file("b.h5"), "--classes", "4"},
               {"SALM_TRAIN=12", "SALM_CLASSES=6"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  j = inspect_json(dir.file("b.h5"));
  EXPECT_EQ(j["splits"]["train"]["rows"], 12);
  EXPECT_EQ(j["num_classes"], 4);
}

TEST(Cli, ConvertFixtureAndInspect) {
  if (test::fixture("").empty()) GTEST_SKIP() << "../shared/fixtures is absent";
  test::TempDir dir;
  for (const char* name : {"fashion_gray_deflate.npz", "fashion_rgb_deflate.npz", "fashion_multilabel_stored.npz"}) {
    std::string out = dir.file(std::string(name) + ".h5");
    auto r = run_salm({"convert", "--in", test::fixture(name), "--out", out});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto src = data::open_dataset(test::fixture(name));
    auto dst = data::open_dataset(out);
    EXPECT_EQ(dst->info().num_classes, src->info().num_classes);
    EXPECT_EQ(dst->info().task, src->info().task);
    for (const auto& split : src->splits()) {
      auto a = src->read_all(split), b = dst->read_all(split);
      EXPECT_EQ(a.images, b.images) << name << " " << split;
      EXPECT_EQ(a.labels, b.labels) << name << " " << split;
    }
    auto j = inspect_json(out);
    EXPECT_EQ(j["splits"]["train"]["rows"], 400);
  }
  // inspect reads the npz directly too
  auto j = inspect_json(test::fixture("fashion_gray_stored.npz"));
  EXPECT_EQ(j["splits"]["val"]["rows"], 100);
  EXPECT_EQ(j["splits"]["train"]["height"], 28);
}

TEST(Cli, TwoRanksWriteTheSameFileAsOne) {
  test::TempDir dir;
  std::vector<std::string> base{"synth", "--seed", "3"};
  base.insert(base.end(), kTiny.begin(), kTiny.end());
  auto one = base, two = base;
  one.insert(one.end(), {"--out", dir.file("one.h5")});
  two.insert(two.end(), {"--out", dir.file("two.h5")});
  ASSERT_EQ(run_salm(one).exit_code, 0);
  auto r = test::run_salm_mpi(2, two);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto a = data::open_dataset(dir.file("one.h5")), b = data::open_dataset(dir.file("two.h5"));
  for (const auto& split : a->splits()) {
    EXPECT_EQ(a->read_all(split).images, b->read_all(split).images) << split;
    EXPECT_EQ(a->read_all(split).labels, b->read_all(split).labels) << split;
  }
  if (!test::fixture("").empty()) {
    auto c = test::run_salm_mpi(2, {"convert", test::fixture("fashion_rgb_deflate.npz"), dir.file("c.h5")});
    ASSERT_EQ(c.exit_code, 0) << c.err;
    auto src = data::open_dataset(test::fixture("fashion_rgb_deflate.npz")), dst = data::open_dataset(dir.file("c.h5"));
    EXPECT_EQ(src->read_all("train").images, dst->read_all("train").images);
  }
  // a bad input under mpirun: exit 2, one salm error line, no output
  auto bad = test::run_salm_mpi(2, {"convert", dir.file("missing.npz"), dir.file("d.h5")});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_EQ(test::error_lines(bad.err).size(), 1u) << bad.err;
  EXPECT_FALSE(test::file_exists(dir.file("d.h5")));
}
