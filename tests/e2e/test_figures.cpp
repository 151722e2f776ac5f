// The figures of the salm binary: salm visualize's sample grid, evaluate --plot, salm plot.
#include <gtest/gtest.h>

#include "salm/eval/figures.hpp"
#include "test_support.hpp"

using namespace salm;

namespace {
bool same(eval::Rgb a, eval::Rgb b) { return a.r == b.r && a.g == b.g && a.b == b.b; }
}  // namespace

TEST(Visualize, GridOfAProtectedTinyDataset) {
  test::TempDir dir;
  std::string data = dir.file("d.h5"), noise = dir.file("n.h5"), png = dir.file("fig.png");
  ASSERT_EQ(test::run_salm({"synth", "--out", data, "--classes", "3", "--train", "12", "--val", "0", "--test", "3", "--size", "16"}).exit_code, 0);
  auto r = test::run_salm({"protect", "--data", data, "--out", noise, "--model", "small-cnn", "--max-iters", "1", "--train-steps", "1",
                           "--pgd-steps", "2", "--no-checkpoint"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = test::run_salm({"visualize", noise, "--out", png, "--count", "4", "--scale", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto d = test::decode_png(test::read_file(png));
  EXPECT_GT(d.w, 4 * 32);
  EXPECT_GE(d.h, 4 * 32);
  // Nothing the user had is replaced silently; bad values and bad files are one-line errors.
  r = test::run_salm({"visualize", noise, "--out", png});
  EXPECT_EQ(r.exit_code, 2);
  for (const auto& [args, needle] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"visualize", noise, "--out", dir.file("a.png"), "--count", "0"}, "--count"},
           {{"visualize", data, "--out", dir.file("a.png")}, data},
           {{"visualize", noise, "--out", dir.file("a.png"), "--scale", "99"}, "--scale"}}) {
    test::expect_one_error(test::run_salm(args), needle);
    EXPECT_FALSE(test::file_exists(dir.file("a.png")));
  }
}

TEST(Visualize, EvaluatePlotDrawsThisRunAndEarlierReports) {
  test::TempDir dir;
  std::string data = dir.file("d.h5"), noise = dir.file("n.h5");
  ASSERT_EQ(test::run_salm({"synth", "--out", data, "--classes", "3", "--train", "24", "--val", "0", "--test", "9", "--size", "16"}).exit_code, 0);
  ASSERT_EQ(test::run_salm({"protect", "--data", data, "--out", noise, "--model", "small-cnn", "--max-iters", "1", "--train-steps", "1",
                            "--pgd-steps", "1", "--no-checkpoint"}).exit_code, 0);
  const std::vector<std::string> victim{"--model", "small-cnn", "--epochs", "2", "--batch-size", "8"};
  auto args = [&](std::vector<std::string> a) {
    a.insert(a.begin(), {"evaluate", "--data", data});
    a.insert(a.end(), victim.begin(), victim.end());
    return a;
  };
  auto r = test::run_salm(args({"--report", dir.file("clean.json")}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = test::run_salm(args({"--noise", noise, "--plot", dir.file("curves.png"), "--plot-with", dir.file("clean.json")}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("2 curve(s)"), std::string::npos) << r.err;
  auto d = test::decode_png(test::read_file(dir.file("curves.png")));
  EXPECT_GT(d.w, 640);  // the plot and the legend beside it
  // --plot-with without --plot, and a file that is no report: one line, nothing written
  for (const auto& [extra, needle] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"--plot-with", dir.file("clean.json")}, "--plot"},
           {{"--plot", dir.file("x.png"), "--plot-with", data}, data}}) {
    test::expect_one_error(test::run_salm(args(extra)), needle);
    EXPECT_FALSE(test::file_exists(dir.file("x.png")));
  }
}

TEST(Plot, ChartOfACsvTableAndItsErrors) {
  test::TempDir dir;
  const auto csv = dir.file("scaling.csv"), png = dir.file("scaling.png");
  test::write_file(csv, "mode,ranks,efficiency,model_efficiency\nstrong,1,1,1\nstrong,2,0.9,0.98\nweak,1,1,1\nweak,2,0.95,\n");
  auto r = test::run_salm({"plot", csv, "--x", "ranks", "--y", "efficiency,model_efficiency", "--group", "mode", "--x-log2",
                           "--reference", "1", "--y-max", "1.2", "--out", png});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("4 curve(s)"), std::string::npos) << r.err;  // strong/weak x measured/model
  auto d = test::decode_png(test::read_file(png));
  EXPECT_GT(d.w, 600);
  EXPECT_EQ(test::run_salm({"plot", csv, "--x", "ranks", "--y", "efficiency", "--out", png}).exit_code, 2);  // exists
  test::write_file(dir.file("bad.csv"), "ranks,efficiency\n1,1\n2,fast\n");
  test::write_file(dir.file("short.csv"), "ranks,efficiency\n1\n");
  test::write_file(dir.file("nan.csv"), "ranks,efficiency\n1,nan\n");
  for (const auto& [args, needle] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"plot", csv, "--x", "ranks", "--y", "speed", "--out", dir.file("a.png")}, "no column 'speed'"},
           {{"plot", dir.file("bad.csv"), "--x", "ranks", "--y", "efficiency", "--out", dir.file("a.png")}, "'fast' is not a number"},
           {{"plot", dir.file("nan.csv"), "--x", "ranks", "--y", "efficiency", "--out", dir.file("a.png")}, "'nan' is not a number"},
           {{"plot", dir.file("short.csv"), "--x", "ranks", "--y", "efficiency", "--out", dir.file("a.png")}, "line 2 has 1 cells"},
           {{"plot", dir.file("none.csv"), "--x", "ranks", "--y", "efficiency", "--out", dir.file("a.png")}, "none.csv"}}) {
    test::expect_one_error(test::run_salm(args), needle);
    EXPECT_FALSE(test::file_exists(dir.file("a.png")));
  }
}
