#include "salm/data/transforms.hpp"

#include <stb_image.h>
#include <stb_image_write.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <numeric>
#include <utility>

#include <fmt/format.h>

#include "salm/core/error.hpp"
#include "salm/core/rng.hpp"

namespace salm::opt {
const std::vector<std::pair<data::Filter, const char*>>& EnumNames<data::Filter>::values() {
  using data::Filter;
  static const std::vector<std::pair<Filter, const char*>> v{
      {Filter::none, "none"}, {Filter::mean, "mean"}, {Filter::median, "median"}, {Filter::gaussian, "gaussian"}};
  return v;
}
}  // namespace salm::opt

namespace salm::data {
namespace {

std::int64_t clampi(std::int64_t v, std::int64_t lo, std::int64_t hi) { return std::min(std::max(v, lo), hi); }

std::uint8_t to_u8(double v) { return static_cast<std::uint8_t>(std::clamp(std::lround(v), 0L, 255L)); }

/// Applies `f(in, out)` to every row of `d` through one scratch image.
template <class F>
void each_row(data::SplitData& d, F&& f) {
  const auto n = static_cast<std::size_t>(d.shape.image_elems());
  std::vector<std::uint8_t> scratch(n);
  for (std::int64_t i = 0; i < d.rows(); ++i) {
    f(d.image(i), scratch.data());
    std::copy(scratch.begin(), scratch.end(), d.image(i));
  }
}

}  // namespace

void filter_image(const std::uint8_t* in, std::uint8_t* out, std::int64_t h, std::int64_t w, std::int64_t c,
                  Filter f) {
  if (f == Filter::none) {
    std::copy(in, in + h * w * c, out);
    return;
  }
  static constexpr int gauss[3] = {1, 2, 1};
  std::array<int, 9> win{};
  for (std::int64_t y = 0; y < h; ++y)
    for (std::int64_t x = 0; x < w; ++x)
      for (std::int64_t ch = 0; ch < c; ++ch) {
        int sum = 0, k = 0;
        for (int dy = -1; dy <= 1; ++dy)
          for (int dx = -1; dx <= 1; ++dx) {
            int v = in[(clampi(y + dy, 0, h - 1) * w + clampi(x + dx, 0, w - 1)) * c + ch];
            win[static_cast<std::size_t>(k++)] = v;
            sum += f == Filter::gaussian ? v * gauss[dy + 1] * gauss[dx + 1] : v;
          }
        int r;
        if (f == Filter::mean) {
          r = (sum + 4) / 9;
        } else if (f == Filter::gaussian) {
          r = (sum + 8) / 16;
        } else {
          std::nth_element(win.begin(), win.begin() + 4, win.end());
          r = win[4];
        }
        out[(y * w + x) * c + ch] = static_cast<std::uint8_t>(r);
      }
}

void crop_resize_image(const std::uint8_t* in, std::uint8_t* out, std::int64_t h, std::int64_t w, std::int64_t c,
                       double fraction) {
  const std::int64_t ch = clampi(std::llround(fraction * static_cast<double>(h)), 1, h);
  const std::int64_t cw = clampi(std::llround(fraction * static_cast<double>(w)), 1, w);
  const std::int64_t top = (h - ch) / 2, left = (w - cw) / 2;
  const double sy = static_cast<double>(ch) / static_cast<double>(h), sx = static_cast<double>(cw) / static_cast<double>(w);
  for (std::int64_t y = 0; y < h; ++y) {
    // Half-pixel centres (align_corners = false), clamped to the crop.
    double fy = std::clamp((static_cast<double>(y) + 0.5) * sy - 0.5, 0.0, static_cast<double>(ch - 1));
    auto y0 = static_cast<std::int64_t>(fy);
    auto y1 = std::min(y0 + 1, ch - 1);
    double ay = fy - static_cast<double>(y0);
    for (std::int64_t x = 0; x < w; ++x) {
      double fx = std::clamp((static_cast<double>(x) + 0.5) * sx - 0.5, 0.0, static_cast<double>(cw - 1));
      auto x0 = static_cast<std::int64_t>(fx);
      auto x1 = std::min(x0 + 1, cw - 1);
      double ax = fx - static_cast<double>(x0);
      auto px = [&](std::int64_t yy, std::int64_t xx, std::int64_t k) {
        return static_cast<double>(in[((top + yy) * w + left + xx) * c + k]);
      };
      for (std::int64_t k = 0; k < c; ++k) {
        double v = (1 - ay) * ((1 - ax) * px(y0, x0, k) + ax * px(y0, x1, k)) +
                   ay * ((1 - ax) * px(y1, x0, k) + ax * px(y1, x1, k));
        out[(y * w + x) * c + k] = to_u8(v);
      }
    }
  }
}

void grayscale_image(std::uint8_t* image, std::int64_t h, std::int64_t w, std::int64_t c) {
  if (c < 3) return;
  for (std::int64_t p = 0; p < h * w; ++p) {
    std::uint8_t* px = image + p * c;
    int y = (299 * px[0] + 587 * px[1] + 114 * px[2] + 500) / 1000;
    for (std::int64_t k = 0; k < c; ++k) px[k] = static_cast<std::uint8_t>(y);
  }
}

void jpeg_image(std::uint8_t* image, std::int64_t h, std::int64_t w, std::int64_t c, int quality) {
  if (quality < 1 || quality > 100) throw UsageError(fmt::format("--jpeg: {} is outside [1, 100]", quality));
  if (c != 1 && c != 3) throw InputError("jpeg", fmt::format("images of {} channels (1 or 3 only)", c));
  std::vector<unsigned char> encoded;
  auto sink = [](void* ctx, void* data, int size) {
    auto* v = static_cast<std::vector<unsigned char>*>(ctx);
    v->insert(v->end(), static_cast<unsigned char*>(data), static_cast<unsigned char*>(data) + size);
  };
  if (!stbi_write_jpg_to_func(sink, &encoded, static_cast<int>(w), static_cast<int>(h), static_cast<int>(c), image,
                              quality))
    throw RuntimeError(fmt::format("JPEG encoding of a {}x{}x{} image failed", h, w, c));
  int dw = 0, dh = 0, dc = 0;
  std::unique_ptr<unsigned char, void (*)(void*)> decoded(
      stbi_load_from_memory(encoded.data(), static_cast<int>(encoded.size()), &dw, &dh, &dc, static_cast<int>(c)),
      stbi_image_free);
  if (!decoded || dw != w || dh != h)
    throw RuntimeError(fmt::format("JPEG decoding failed: {}", decoded ? "size changed" : stbi_failure_reason()));
  std::copy(decoded.get(), decoded.get() + h * w * c, image);
}

void apply_filter(data::SplitData& d, Filter f) {
  if (f == Filter::none) return;
  const auto& s = d.shape;
  each_row(d, [&](const std::uint8_t* in, std::uint8_t* out) { filter_image(in, out, s.height, s.width, s.channels, f); });
}

void apply_crop(data::SplitData& d, double fraction) {
  if (fraction == 1.0) return;
  const auto& s = d.shape;
  each_row(d, [&](const std::uint8_t* in, std::uint8_t* out) {
    crop_resize_image(in, out, s.height, s.width, s.channels, fraction);
  });
}

void apply_grayscale(data::SplitData& d) {
  for (std::int64_t i = 0; i < d.rows(); ++i) grayscale_image(d.image(i), d.shape.height, d.shape.width, d.shape.channels);
}

void apply_jpeg(data::SplitData& d, int quality) {
  for (std::int64_t i = 0; i < d.rows(); ++i) jpeg_image(d.image(i), d.shape.height, d.shape.width, d.shape.channels, quality);
}

void Preprocessing::validate() const {
  if (!(crop > 0.0 && crop <= 1.0)) throw UsageError(fmt::format("--crop: {} is outside (0, 1]", crop));
  if (jpeg != 0 && (jpeg < 1 || jpeg > 100)) throw UsageError(fmt::format("--jpeg: {} is outside [1, 100]", jpeg));
}

std::vector<Preprocessing::Step> Preprocessing::steps() const {
  std::vector<Step> s;
  if (filter != Filter::none) s.push_back({"filter", opt::to_string(filter) + " 3x3", false});
  if (jpeg != 0) s.push_back({"jpeg", fmt::format("quality {}", jpeg), false});
  if (crop != 1.0) s.push_back({"crop", fmt::format("{:g}", crop), true});
  if (grayscale) s.push_back({"grayscale", "BT.601 luma", true});
  return s;
}

std::string Preprocessing::describe() const {
  std::string out;
  for (const auto& st : steps())
    out += fmt::format("{}{} {} ({})", out.empty() ? "" : "; ", st.name, st.value, st.test ? "train, test" : "train");
  return out.empty() ? "none" : out;
}

void Preprocessing::apply_train(data::SplitData& d) const {
  apply_filter(d, filter);
  if (jpeg != 0) apply_jpeg(d, jpeg);
  apply_crop(d, crop);
  if (grayscale) apply_grayscale(d);
}

void Preprocessing::apply_test(data::SplitData& d) const {
  apply_crop(d, crop);
  if (grayscale) apply_grayscale(d);
}

}  // namespace salm::data
