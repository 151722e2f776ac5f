// Figures in-process: the canvas and its PNG, the learning curves, the log2 chart. (salm visualize,
// evaluate --plot and salm plot: tests/e2e/test_figures.cpp.)
#include <gtest/gtest.h>

#include "salm/core/error.hpp"
#include "salm/eval/figures.hpp"
#include "test_support.hpp"

using namespace salm;

namespace {

bool same(eval::Rgb a, eval::Rgb b) { return a.r == b.r && a.g == b.g && a.b == b.b; }

}  // namespace

TEST(Figures, CanvasDrawsWhatItIsToldAndWritesAPng) {
  eval::Canvas cv(40, 20, {255, 255, 255});
  cv.fill(2, 3, 4, 5, {10, 20, 30});
  cv.line(0, 15, 39, 15, {200, 0, 0}, 1);
  const std::uint8_t grey[4] = {0, 64, 128, 255};
  cv.image(30, 0, grey, 2, 2, 1, 3);  // 2x2 grey image, each pixel a 3x3 block
  cv.text(10, 2, "A1", {0, 0, 255});
  auto d = test::decode_png(cv.png());
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
  auto d = test::decode_png(eval::curves_png({a, b}, 0.1, "TEST"));
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

TEST(Figures, LineChartOnALog2AxisPutsPowersOfTwoEvenlyApart) {
  eval::ChartStyle style;
  style.x_log2 = true;
  style.y_max = 1.2;
  style.reference = 1.0;
  eval::Curve c{"EFF", {1, 2, 4}, {1.0, 1.0, 1.0}};
  auto d = test::decode_png(eval::line_chart_png({c}, style, "T"));
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
