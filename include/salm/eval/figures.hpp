/// Figures without Python: an RGB canvas with lines, boxes and a built-in 5x7 pixel font, written
/// as PNG through stb_image_write. Two figures use it: the sample grid of `salm visualize`
/// (original, noise, mask, protected, like the paper's Figure 7) and the learning curves of
/// `salm evaluate --plot` (like its Figure 2), and any line chart of a CSV table (`salm plot`).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace salm::eval {

struct Rgb {
  std::uint8_t r = 0, g = 0, b = 0;
};

class Canvas {
public:
  Canvas(int width, int height, Rgb background = {255, 255, 255});
  int width() const { return w_; }
  int height() const { return h_; }
  void set(int x, int y, Rgb c);  ///< ignores points outside
  Rgb get(int x, int y) const;
  void fill(int x, int y, int w, int h, Rgb c);
  /// A line `thickness` pixels wide; dashed: every other run of 6 pixels is left out.
  void line(double x0, double y0, double x1, double y1, Rgb c, int thickness = 1, bool dashed = false);
  /// Text in the 5x7 font (upper case; lower case is drawn as upper case), `scale` pixels per dot.
  void text(int x, int y, const std::string& s, Rgb c, int scale = 1);
  static int text_width(const std::string& s, int scale = 1) { return static_cast<int>(s.size()) * 6 * scale; }
  /// Draws an image of h x w x channels (1 or 3) uint8 pixels, each pixel as a scale x scale block.
  void image(int x, int y, const std::uint8_t* pixels, int h, int w, int channels, int scale);
  /// The PNG file's bytes.
  std::string png() const;

private:
  int w_, h_;
  std::vector<std::uint8_t> rgb_;
};

/// One row of the sample grid: images of h x w x c, all uint8.
struct SampleRow {
  std::vector<std::uint8_t> original, noise, mask, protected_image;  ///< noise already mapped to [0,255]
  std::string label;                                                 ///< e.g. "ROW 17 CLASS 3"
};

/// The grid of `salm visualize`: one row per sample, columns original | noise | mask | protected,
/// a title line and column headings. Returns the PNG bytes.
std::string sample_grid_png(const std::vector<SampleRow>& rows, int h, int w, int c, int scale,
                            const std::string& title);

struct Curve {
  std::string label;
  std::vector<double> x, y;  ///< epochs, accuracies in [0,1]
};

/// The axes of a line chart: y from 0 to `y_max` drawn as percent, x linear from 0 or (x_log2)
/// in powers of two from 1 (ranks, nodes), an optional dashed reference line.
struct ChartStyle {
  std::string x_label = "EPOCH";
  bool x_log2 = false;
  double y_max = 1.0;
  double reference = -1;  ///< skipped when < 0
  std::string reference_label = "CHANCE";
};

/// A line chart of `curves` (one colour each, a legend). Returns the PNG bytes.
std::string line_chart_png(const std::vector<Curve>& curves, const ChartStyle& style, const std::string& title);

/// Learning curves: accuracy (0-100%) against epoch, one colour per curve, a legend, and a dashed
/// line at `chance` (skipped when < 0). Returns the PNG bytes.
std::string curves_png(const std::vector<Curve>& curves, double chance, const std::string& title);

}  // namespace salm::eval
