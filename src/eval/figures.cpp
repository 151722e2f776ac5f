#include "salm/eval/figures.hpp"

#include <stb_image_write.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>

#include <fmt/format.h>

#include "salm/core/error.hpp"

namespace salm::eval {
namespace {

/// 5x7 glyphs, one string of 7 rows x 5 columns ('#' = dot) per character.
const std::map<char, const char*>& font() {
  static const std::map<char, const char*> f{
      {'A', ".###.#...##...#######...##...##...#"}, {'B', "####.#...#####.#...##...##...#####."},
      {'C', ".###.#...##....#....#....#...#.###."}, {'D', "####.#...##...##...##...##...#####."},
      {'E', "######....####.#....#....#....#####"}, {'F', "######....####.#....#....#....#...."},
      {'G', ".###.#...##....#.####...##...#.###."}, {'H', "#...##...#######...##...##...##...#"},
      {'I', ".###...#....#....#....#....#...###."}, {'J', "..###...#....#....#....##..#..##..."},
      {'K', "#...##..#.#.#..##...#.#..#..#.#...#"}, {'L', "#....#....#....#....#....#....#####"},
      {'M', "#...###.###.#.##...##...##...##...#"}, {'N', "#...###..##.#.##..###...##...##...#"},
      {'O', ".###.#...##...##...##...##...#.###."}, {'P', "####.#...##...#####.#....#....#...."},
      {'Q', ".###.#...##...##...##.#.##..#..##.#"}, {'R', "####.#...##...#####.#.#..#..#.#...#"},
      {'S', ".####.....#.....###.....#.....#####."}, {'T', "#####..#....#....#....#....#....#.."},
      {'U', "#...##...##...##...##...##...#.###."}, {'V', "#...##...##...##...##...#.#.#...#.."},
      {'W', "#...##...##...##.#.##.#.##.#.#.#.#."}, {'X', "#...##...#.#.#...#...#.#.#...##...#"},
      {'Y', "#...##...#.#.#...#....#....#....#.."}, {'Z', "#####....#...#...#...#...#....#####"},
      {'0', ".###.#...##..###.#.###..##...#.###."}, {'1', "..#...##....#....#....#....#...###."},
      {'2', ".###.#...#....#...#...#...#...#####"}, {'3', "#####...#...#.....#....##...#.###."},
      {'4', "...#...##..#.#.#..#.#####...#....#."}, {'5', "#####.....####.....#....##...#.###."},
      {'6', "..##..#...#....####.#...##...#.###."}, {'7', "#####....#...#...#...#....#....#..."},
      {'8', ".###.#...##...#.###.#...##...#.###."}, {'9', ".###.#...##...#.####....#...#..##.."},
      {' ', "..................................."}, {'.', "..............................##..."},
      {',', ".........................##...#..#."}, {'-', "...............###................."},
      {'%', "##...##..#...#...#...#...#..##...##"}, {'(', "...#...#...#....#....#.....#.....#."},
      {')', ".#.....#.....#....#....#...#...#..."}, {'/', ".....#...#...#...#...#...#........."},
      {':', ".....##...##.........##...##......."}, {'=', "..........#####.....#####.........."},
      {'+', ".......#....#..#####..#....#......."}, {'_', "..............................#####"}};
  return f;
}

void append_bytes(void* ctx, void* data, int size) {
  static_cast<std::string*>(ctx)->append(static_cast<const char*>(data), static_cast<std::size_t>(size));
}

const Rgb kBlack{0, 0, 0}, kGrey{120, 120, 120}, kLight{225, 225, 225};

}  // namespace

Canvas::Canvas(int width, int height, Rgb background) : w_(width), h_(height) {
  if (width < 1 || height < 1 || static_cast<long long>(width) * height > (1LL << 28))
    throw RuntimeError(fmt::format("figure of {}x{} pixels: not drawable", width, height));
  rgb_.resize(static_cast<std::size_t>(width) * height * 3);
  for (std::size_t i = 0; i < rgb_.size(); i += 3) {
    rgb_[i] = background.r;
    rgb_[i + 1] = background.g;
    rgb_[i + 2] = background.b;
  }
}

void Canvas::set(int x, int y, Rgb c) {
  if (x < 0 || y < 0 || x >= w_ || y >= h_) return;
  auto* p = &rgb_[(static_cast<std::size_t>(y) * w_ + x) * 3];
  p[0] = c.r, p[1] = c.g, p[2] = c.b;
}

Rgb Canvas::get(int x, int y) const {
  if (x < 0 || y < 0 || x >= w_ || y >= h_) return {};
  const auto* p = &rgb_[(static_cast<std::size_t>(y) * w_ + x) * 3];
  return {p[0], p[1], p[2]};
}

void Canvas::fill(int x, int y, int w, int h, Rgb c) {
  for (int j = y; j < y + h; ++j)
    for (int i = x; i < x + w; ++i) set(i, j, c);
}

void Canvas::line(double x0, double y0, double x1, double y1, Rgb c, int thickness, bool dashed) {
  double len = std::hypot(x1 - x0, y1 - y0);
  int steps = std::max(1, static_cast<int>(std::ceil(len * 2)));
  for (int s = 0; s <= steps; ++s) {
    double t = static_cast<double>(s) / steps;
    if (dashed && static_cast<int>(t * len / 6) % 2 == 1) continue;
    int cx = static_cast<int>(std::lround(x0 + t * (x1 - x0))), cy = static_cast<int>(std::lround(y0 + t * (y1 - y0)));
    fill(cx - (thickness - 1) / 2, cy - (thickness - 1) / 2, thickness, thickness, c);
  }
}

void Canvas::text(int x, int y, const std::string& s, Rgb c, int scale) {
  const auto& f = font();
  for (std::size_t i = 0; i < s.size(); ++i) {
    auto it = f.find(static_cast<char>(std::toupper(static_cast<unsigned char>(s[i]))));
    if (it == f.end()) it = f.find('_');
    for (int row = 0; row < 7; ++row)
      for (int col = 0; col < 5; ++col)
        if (it->second[row * 5 + col] == '#')
          fill(x + static_cast<int>(i) * 6 * scale + col * scale, y + row * scale, scale, scale, c);
  }
}

void Canvas::image(int x, int y, const std::uint8_t* pixels, int h, int w, int channels, int scale) {
  for (int r = 0; r < h; ++r)
    for (int q = 0; q < w; ++q) {
      const std::uint8_t* p = pixels + (static_cast<std::size_t>(r) * w + q) * channels;
      Rgb c = channels >= 3 ? Rgb{p[0], p[1], p[2]} : Rgb{p[0], p[0], p[0]};
      fill(x + q * scale, y + r * scale, scale, scale, c);
    }
}

std::string Canvas::png() const {
  std::string out;
  if (!stbi_write_png_to_func(append_bytes, &out, w_, h_, 3, rgb_.data(), w_ * 3))
    throw RuntimeError("PNG encoding failed");
  return out;
}

std::string sample_grid_png(const std::vector<SampleRow>& rows, int h, int w, int c, int scale, const std::string& title) {
  const int pad = 6, cell_w = w * scale, cell_h = h * scale;
  const std::vector<std::string> heads{"ORIGINAL", "NOISE (AMPLIFIED)", "MASK", "PROTECTED"};
  const int label_w = 110;
  int col_w = std::max(cell_w, Canvas::text_width("NOISE (AMPLIFIED)")) + pad;
  int width = label_w + 4 * col_w + pad, top = 34;
  int height = top + static_cast<int>(rows.size()) * (cell_h + pad) + pad;
  Canvas cv(width, height);
  cv.text(pad, 6, title, kBlack);
  for (int k = 0; k < 4; ++k) cv.text(label_w + k * col_w, 20, heads[static_cast<std::size_t>(k)], kGrey);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    int y = top + static_cast<int>(i) * (cell_h + pad);
    cv.text(pad, y + cell_h / 2 - 3, rows[i].label, kBlack);
    const std::vector<const std::vector<std::uint8_t>*> imgs{&rows[i].original, &rows[i].noise, &rows[i].mask,
                                                              &rows[i].protected_image};
    for (int k = 0; k < 4; ++k) {
      const auto& img = *imgs[static_cast<std::size_t>(k)];
      int ch = k == 2 ? 1 : c;
      if (img.size() != static_cast<std::size_t>(h) * w * ch) throw RuntimeError("sample grid: image of the wrong size");
      cv.image(label_w + k * col_w, y, img.data(), h, w, ch, scale);
    }
  }
  return cv.png();
}

std::string line_chart_png(const std::vector<Curve>& curves, const ChartStyle& style, const std::string& title) {
  const std::vector<Rgb> colours{{31, 119, 180}, {214, 39, 40}, {44, 160, 44},  {255, 127, 14}, {148, 103, 189},
                                 {140, 86, 75},  {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207}};
  int legend_w = 0;  // the legend sits right of the plot, one line per curve
  for (const auto& c : curves) legend_w = std::max(legend_w, Canvas::text_width(c.label) + 30);
  const int plot_w = 560, H = 420, left = 60, top = 34, bottom = 46;
  const int right = 20 + legend_w, W = left + plot_w + right;
  const double ymax = style.y_max > 0 ? style.y_max : 1.0;
  Canvas cv(W, H);
  double xmax = style.x_log2 ? 2 : 1;
  for (const auto& c : curves)
    for (double x : c.x) xmax = std::max(xmax, x);
  // log2 axis: from 1 to the next power of two at or above the largest x.
  const double lmax = std::ceil(std::log2(xmax));
  auto xpos = [&](double x) { return style.x_log2 ? std::log2(std::max(x, 1.0)) / lmax : x / xmax; };
  auto px = [&](double x) { return left + (W - left - right) * xpos(x); };
  auto py = [&](double y) { return top + (H - top - bottom) * (1.0 - std::clamp(y, 0.0, ymax) / ymax); };
  cv.text(left, 10, title, kBlack);
  const int steps = std::max(1, static_cast<int>(std::lround(ymax / 0.2)));
  for (int g = 0; g <= steps; ++g) {  // grid and y labels: about every 20%, always at 0 and the top
    double y = ymax * g / std::max(1, steps);
    cv.line(left, py(y), W - right, py(y), kLight);
    std::string l = fmt::format("{:.0f}%", 100 * y);
    cv.text(left - 8 - Canvas::text_width(l), static_cast<int>(py(y)) - 3, l, kGrey);
  }
  if (style.x_log2) {
    for (int t = 0; t <= static_cast<int>(lmax); ++t) {
      std::string l = fmt::format("{}", 1LL << t);
      cv.text(static_cast<int>(px(std::ldexp(1.0, t))) - Canvas::text_width(l) / 2, H - bottom + 8, l, kGrey);
    }
  } else {
    int ticks = static_cast<int>(std::min(xmax, 10.0));
    for (int t = 0; t <= ticks; ++t) {
      double x = xmax * t / std::max(1, ticks);
      std::string l = fmt::format("{:.0f}", x);
      cv.text(static_cast<int>(px(x)) - Canvas::text_width(l) / 2, H - bottom + 8, l, kGrey);
    }
  }
  cv.text(left + (plot_w - Canvas::text_width(style.x_label)) / 2, H - 16, style.x_label, kGrey);
  cv.line(left, top, left, H - bottom, kBlack);
  cv.line(left, H - bottom, W - right, H - bottom, kBlack);
  if (style.reference >= 0) {
    cv.line(left, py(style.reference), W - right, py(style.reference), kGrey, 1, true);
    cv.text(left + plot_w - Canvas::text_width(style.reference_label), static_cast<int>(py(style.reference)) - 10,
            style.reference_label, kGrey);
  }
  for (std::size_t i = 0; i < curves.size(); ++i) {
    const auto& c = curves[i];
    Rgb col = colours[i % colours.size()];
    for (std::size_t k = 0; k + 1 < c.x.size() && k + 1 < c.y.size(); ++k)
      cv.line(px(c.x[k]), py(c.y[k]), px(c.x[k + 1]), py(c.y[k + 1]), col, 2);
    for (std::size_t k = 0; k < c.x.size() && k < c.y.size(); ++k)
      cv.fill(static_cast<int>(px(c.x[k])) - 2, static_cast<int>(py(c.y[k])) - 2, 5, 5, col);
    int ly = top + static_cast<int>(i) * 14;
    int lx = left + plot_w + 20;
    cv.fill(lx, ly + 2, 14, 3, col);
    cv.text(lx + 20, ly, c.label, col);
  }
  return cv.png();
}

std::string curves_png(const std::vector<Curve>& curves, double chance, const std::string& title) {
  ChartStyle style;
  style.reference = chance;
  return line_chart_png(curves, style, title);
}

}  // namespace salm::eval
