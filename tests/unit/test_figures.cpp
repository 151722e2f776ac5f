// Figures: the canvas and its PNG, the sample grid of `salm visualize`, the learning curves.
#include <gtest/gtest.h>

#include <stb_image.h>

#include "salm/core/error.hpp"
#include "salm/eval/figures.hpp"
#include "test_support.hpp"

using namespace salm;

namespace {

struct Decoded {
  int w = 0, h = 0;
  std::vector<std::uint8_t> rgb;
  eval::Rgb at(int x, int y) const {
    const auto* p = &rgb[(static_cast<std::size_t>(y) * w + x) * 3];
    return {p[0], p[1], p[2]};
  }
};

Decoded decode(const std::string& png) {
  Decoded d;
  int comp = 0;
  unsigned char* p = stbi_load_from_memory(reinterpret_cast<const unsigned char*>(png.data()), static_cast<int>(png.size()),
                                           &d.w, &d.h, &comp, 3);
  EXPECT_NE(p, nullptr) << "not a PNG stb can read";
  if (p) {
    d.rgb.assign(p, p + static_cast<std::size_t>(d.w) * d.h * 3);
    stbi_image_free(p);
  }
  return d;
}

bool same(eval::Rgb a, eval::Rgb b) { return a.r == b.r && a.g == b.g && a.b == b.b; }

}  // namespace

TEST(Figures, CanvasDrawsWhatItIsToldAndWritesAPng) {
  eval::Canvas cv(40, 20, {255, 255, 255});
  cv.fill(2, 3, 4, 5, {10, 20, 30});
  cv.line(0, 15, 39, 15, {200, 0, 0}, 1);
  const std::uint8_t grey[4] = {0, 64, 128, 255};
  cv.image(30, 0, grey, 2, 2, 1, 3);  // 2x2 grey image, each pixel a 3x3 block
  cv.text(10, 2, "A1", {0, 0, 255});
  auto d = decode(cv.png());
  ASSERT_EQ(d.w, 40);
  ASSERT_EQ(d.h, 20);
  EXPECT_TRUE(same(d.at(3, 4), {10, 20, 30}));
  EXPECT_TRUE(same(d.at(6, 4), {255, 255, 255}));  // just outside the box
  for (int x = 0; x < 40; ++x) EXPECT_TRUE(same(d.at(x, 15), {200, 0, 0})) << x;
  EXPECT_TRUE(same(d.at(31, 1), {0, 0, 0}));
  EXPECT_TRUE(same(d.at(34, 1), {64, 64, 64}));
  EXPECT_TRUE(same(d.at(35, 4), {255, 255, 255}));
  int blue = 0;  // "A1": some dots of the 5x7 glyphs, none outside their 12x7 box
  for (int y = 0; y < 20; ++y)
    for (int x = 0; x < 30; ++x)
      if (same(d.at(x, y), {0, 0, 255})) {
        ++blue;
        EXPECT_TRUE(x >= 10 && x < 22 && y >= 2 && y < 9) << x << "," << y;
      }
  EXPECT_GT(blue, 20);
  EXPECT_EQ(eval::Canvas::text_width("A1", 2), 24);
  EXPECT_THROW(eval::Canvas(0, 5), RuntimeError);
}

TEST(Figures, CurvesAreDrawnInTheirColours) {
  eval::Curve a{"CLEAN", {1, 2, 3}, {0.5, 0.7, 0.9}}, b{"PROTECTED", {1, 2, 3}, {0.2, 0.15, 0.1}};
  auto d = decode(eval::curves_png({a, b}, 0.1, "TEST"));
  ASSERT_GT(d.w, 100);
  int first = 0, second = 0;
  for (int y = 0; y < d.h; ++y)
    for (int x = 0; x < d.w; ++x) {
      first += same(d.at(x, y), {31, 119, 180});
      second += same(d.at(x, y), {214, 39, 40});
    }
  EXPECT_GT(first, 200);
  EXPECT_GT(second, 200);
}

TEST(Visualize, GridOfAProtectedTinyDataset) {
  test::TempDir dir;
  std::string data = dir.file("d.h5"), noise = dir.file("n.h5"), png = dir.file("fig.png");
  ASSERT_EQ(test::run_salm({"synth", "--out", data, "--classes", "3", "--train", "12", "--val", "0", "--test", "3", "--size", "16"}).exit_code, 0);
  auto r = test::run_salm({"protect", "--data", data, "--out", noise, "--model", "small-cnn", "--max-iters", "1", "--train-steps", "1",
                           "--pgd-steps", "2", "--no-checkpoint"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = test::run_salm({"visualize", noise, "--out", png, "--count", "4", "--scale", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto d = decode(test::read_file(png));
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
  auto d = decode(test::read_file(dir.file("curves.png")));
  EXPECT_GT(d.w, 640);  // the plot and the legend beside it
  // --plot-with without --plot, and a file that is no report: one line, nothing written
  for (const auto& [extra, needle] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"--plot-with", dir.file("clean.json")}, "--plot"},
           {{"--plot", dir.file("x.png"), "--plot-with", data}, data}}) {
    test::expect_one_error(test::run_salm(args(extra)), needle);
    EXPECT_FALSE(test::file_exists(dir.file("x.png")));
  }
}

TEST(Figures, LineChartOnALog2AxisPutsPowersOfTwoEvenlyApart) {
  eval::ChartStyle style;
  style.x_log2 = true;
  style.y_max = 1.2;
  style.reference = 1.0;
  eval::Curve c{"EFF", {1, 2, 4}, {1.0, 1.0, 1.0}};
  auto d = decode(eval::line_chart_png({c}, style, "T"));
  // The three points lie on one horizontal line at y = 100%: find the curve colour's rows.
  int top = d.h, bottom = 0, left = d.w, right = 0;
  for (int y = 0; y < d.h; ++y)
    for (int x = 0; x < d.w - 200; ++x)  // leave out the legend
      if (same(d.at(x, y), {31, 119, 180})) {
        top = std::min(top, y), bottom = std::max(bottom, y);
        left = std::min(left, x), right = std::max(right, x);
      }
  EXPECT_LE(bottom - top, 5);  // a 2-px line with 5-px point markers
  EXPECT_GT(right - left, 400);
}

TEST(Plot, ChartOfACsvTableAndItsErrors) {
  test::TempDir dir;
  const auto csv = dir.file("scaling.csv"), png = dir.file("scaling.png");
  test::write_file(csv, "mode,ranks,efficiency,model_efficiency\nstrong,1,1,1\nstrong,2,0.9,0.98\nweak,1,1,1\nweak,2,0.95,\n");
  auto r = test::run_salm({"plot", csv, "--x", "ranks", "--y", "efficiency,model_efficiency", "--group", "mode", "--x-log2",
                           "--reference", "1", "--y-max", "1.2", "--out", png});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("4 curve(s)"), std::string::npos) << r.err;  // strong/weak x measured/model
  auto d = decode(test::read_file(png));
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
