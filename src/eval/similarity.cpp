#include "salm/eval/similarity.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <vector>

#include "salm/core/error.hpp"

namespace salm::eval {
namespace {

/// Normalised 1-D Gaussian of odd length `n`, sigma 1.5.
std::vector<double> gaussian_window(std::int64_t n) {
  std::vector<double> g(static_cast<std::size_t>(n));
  const double r = static_cast<double>(n - 1) / 2, s = 1.5;
  double sum = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    double d = static_cast<double>(i) - r;
    sum += g[static_cast<std::size_t>(i)] = std::exp(-d * d / (2 * s * s));
  }
  for (auto& v : g) v /= sum;
  return g;
}

}  // namespace

double ssim(const std::uint8_t* a, const std::uint8_t* b, std::int64_t h, std::int64_t w, std::int64_t c) {
  if (h < 1 || w < 1 || c < 1) return 1.0;
  std::int64_t win = std::min<std::int64_t>({11, h, w});
  if (win % 2 == 0) --win;
  const auto g = gaussian_window(win);
  const double c1 = (0.01 * 255) * (0.01 * 255), c2 = (0.03 * 255) * (0.03 * 255);
  const std::int64_t oh = h - win + 1, ow = w - win + 1;
  // Horizontal pass (rows of width ow) of x, y, x^2, y^2, xy; then the vertical pass per position.
  std::vector<double> hx(static_cast<std::size_t>(h * ow)), hy(hx.size()), hxx(hx.size()), hyy(hx.size()), hxy(hx.size());
  double total = 0;
  for (std::int64_t ch = 0; ch < c; ++ch) {
    for (std::int64_t y = 0; y < h; ++y)
      for (std::int64_t x = 0; x < ow; ++x) {
        double sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
        for (std::int64_t k = 0; k < win; ++k) {
          const double wk = g[static_cast<std::size_t>(k)];
          const double u = a[(y * w + x + k) * c + ch], v = b[(y * w + x + k) * c + ch];
          sx += wk * u;
          sy += wk * v;
          sxx += wk * u * u;
          syy += wk * v * v;
          sxy += wk * u * v;
        }
        auto i = static_cast<std::size_t>(y * ow + x);
        hx[i] = sx, hy[i] = sy, hxx[i] = sxx, hyy[i] = syy, hxy[i] = sxy;
      }
    double sum = 0;
    for (std::int64_t y = 0; y < oh; ++y)
      for (std::int64_t x = 0; x < ow; ++x) {
        double mx = 0, my = 0, exx = 0, eyy = 0, exy = 0;
        for (std::int64_t k = 0; k < win; ++k) {
          const double wk = g[static_cast<std::size_t>(k)];
          auto i = static_cast<std::size_t>((y + k) * ow + x);
          mx += wk * hx[i];
          my += wk * hy[i];
          exx += wk * hxx[i];
          eyy += wk * hyy[i];
          exy += wk * hxy[i];
        }
        const double vx = exx - mx * mx, vy = eyy - my * my, cxy = exy - mx * my;
        sum += ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2));
      }
    total += sum / static_cast<double>(oh * ow);
  }
  return total / static_cast<double>(c);
}

double psnr(const std::uint8_t* a, const std::uint8_t* b, std::int64_t n) {
  if (n <= 0) return kPsnrCap;
  double se = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    double d = static_cast<double>(a[i]) - static_cast<double>(b[i]);
    se += d * d;
  }
  if (se == 0) return kPsnrCap;
  return std::min(kPsnrCap, 10.0 * std::log10(255.0 * 255.0 * static_cast<double>(n) / se));
}

double l0_density(const std::uint8_t* a, const std::uint8_t* b, std::int64_t h, std::int64_t w, std::int64_t c) {
  if (h * w <= 0) return 0;
  std::int64_t changed = 0;
  for (std::int64_t p = 0; p < h * w; ++p)
    changed += !std::equal(a + p * c, a + (p + 1) * c, b + p * c);
  return static_cast<double>(changed) / static_cast<double>(h * w);
}

double linf_255(const std::uint8_t* a, const std::uint8_t* b, std::int64_t n) {
  int m = 0;
  for (std::int64_t i = 0; i < n; ++i) m = std::max(m, std::abs(static_cast<int>(a[i]) - static_cast<int>(b[i])));
  return m;
}

Similarity similarity(const data::SplitData& clean, const data::SplitData& prot, dist::Communicator& comm) {
  const auto& s = clean.shape;
  SALM_CHECK(s.height == prot.shape.height && s.width == prot.shape.width && s.channels == prot.shape.channels &&
                 clean.rows() == prot.rows(),
             "similarity of rows of different shapes");
  const std::int64_t n = s.image_elems();
  const double inf = std::numeric_limits<double>::infinity();
  double sums[5] = {static_cast<double>(clean.rows()), 0, 0, 0, 0};  // rows, ssim, psnr, l0, linf
  double mins[2] = {inf, inf};                                     // ssim, psnr
  double maxs[2] = {0, 0};                                         // l0, linf
  for (std::int64_t i = 0; i < clean.rows(); ++i) {
    const auto* a = clean.image(i);
    const auto* b = prot.image(i);
    double v[4] = {ssim(a, b, s.height, s.width, s.channels), psnr(a, b, n), l0_density(a, b, s.height, s.width, s.channels),
                   linf_255(a, b, n)};
    for (int k = 0; k < 4; ++k) sums[k + 1] += v[k];
    mins[0] = std::min(mins[0], v[0]);
    mins[1] = std::min(mins[1], v[1]);
    maxs[0] = std::max(maxs[0], v[2]);
    maxs[1] = std::max(maxs[1], v[3]);
  }
  comm.allreduce(sums, 5);
  comm.allreduce(mins, 2, dist::ReduceOp::min);
  comm.allreduce(maxs, 2, dist::ReduceOp::max);
  Similarity r;
  r.rows = static_cast<std::int64_t>(sums[0]);
  if (r.rows == 0) return r;
  const double rows = sums[0];
  r.ssim_mean = sums[1] / rows;
  r.psnr_mean = sums[2] / rows;
  r.l0_density_mean = sums[3] / rows;
  r.linf_mean = sums[4] / rows;
  r.ssim_min = mins[0];
  r.psnr_min = mins[1];
  r.l0_density_max = maxs[0];
  r.linf_max = maxs[1];
  return r;
}

}  // namespace salm::eval
