#include "salm/data/synth.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <numeric>
#include <random>

#include <fmt/format.h>

#include "salm/core/error.hpp"
#include "salm/core/rng.hpp"

namespace salm::data {
namespace {

constexpr double kPi = 3.14159265358979323846;

// Stain absorbance (optical density per unit stain, R G B), after Ruifrok & Johnston.
constexpr std::array<std::array<double, 3>, 3> kStains{{
    {0.65, 0.70, 0.29},  // hematoxylin: blue-purple
    {0.07, 0.99, 0.11},  // eosin: pink
    {0.27, 0.57, 0.78},  // DAB: brown
}};

enum Shape { round_cell = 0, spindle = 1, lobed = 2 };
enum Arrangement { scattered = 0, clustered = 1, dense = 2 };

struct ClassFactors {
  int shape, stain, arrangement;
  double scale;  // cell size factor (varies for classes beyond the first 9)
};

ClassFactors factors(const SynthOptions& opt, std::int64_t c) {
  ClassFactors f;
  f.shape = static_cast<int>(c % 3);
  f.stain = static_cast<int>((c / 3) % 3);
  f.arrangement = static_cast<int>((c % 3 + c / 3) % 3);
  f.scale = 1.0;
  if (c >= 9) {  // more classes: vary the size too, deterministically per class
    Rng r(derive_seed(opt.seed, {hash_name("class"), static_cast<std::uint64_t>(c)}));
    f.scale = std::uniform_real_distribution<double>(0.75, 1.35)(r);
  }
  return f;
}

double uniform(Rng& r, double a, double b) { return std::uniform_real_distribution<double>(a, b)(r); }
int uniform_int(Rng& r, int a, int b) { return std::uniform_int_distribution<int>(a, b)(r); }

/// Renders one image into `out` ([size, size, channels]).
void render(const SynthOptions& opt, std::int64_t label, Rng& r, std::uint8_t* out) {
  const int n = static_cast<int>(opt.size);
  const double px = static_cast<double>(n) / 28.0;  // sizes are designed at 28 px
  // Ambiguous tissue: a fraction of the images looks like another class altogether (the
  // class factors are redundant, so borrowing one factor would not confuse a good model).
  std::int64_t look = label;
  if (uniform(r, 0, 1) < opt.ambiguity) look = (label + uniform_int(r, 1, static_cast<int>(opt.classes) - 1)) % opt.classes;
  ClassFactors f = factors(opt, look);
  int shape = f.shape;

  // Stain: the class's hue, mixed with a random other hue, strength varying per slide.
  std::array<double, 3> absorb = kStains[static_cast<std::size_t>(f.stain)];
  const auto& other = kStains[static_cast<std::size_t>((f.stain + uniform_int(r, 1, 2)) % 3)];
  double mix = uniform(r, 0.0, 0.35);
  for (int k = 0; k < 3; ++k) absorb[static_cast<std::size_t>(k)] =
      (1 - mix) * absorb[static_cast<std::size_t>(k)] + mix * other[static_cast<std::size_t>(k)];
  double strength = uniform(r, 0.8, 1.5);

  // Slide background: bright, slightly tinted, with sensor noise.
  std::array<double, 3> bg{uniform(r, 228, 244), uniform(r, 224, 240), uniform(r, 232, 248)};
  std::vector<double> od(static_cast<std::size_t>(n * n), 0.0);

  int cells;
  double r0;
  switch (f.arrangement) {
    case scattered: cells = uniform_int(r, 3, 5); r0 = 2.6; break;
    case clustered: cells = uniform_int(r, 4, 7); r0 = 2.2; break;
    default: cells = uniform_int(r, 7, 11); r0 = 1.7; break;
  }
  r0 *= f.scale * px;
  double cx0 = uniform(r, 0.3, 0.7) * n, cy0 = uniform(r, 0.3, 0.7) * n;
  double ring = uniform(r, 0.18, 0.26) * n;
  double phase0 = uniform(r, 0, 2 * kPi);
  double orient0 = uniform(r, 0, kPi);
  bool nucleus = f.arrangement != dense;
  for (int i = 0; i < cells; ++i) {
    double cx, cy;
    if (f.arrangement == clustered) {  // gland-like ring
      double a = phase0 + 2 * kPi * i / cells + uniform(r, -0.2, 0.2);
      cx = cx0 + ring * std::cos(a);
      cy = cy0 + ring * std::sin(a);
    } else {
      double margin = 3 * px;
      cx = uniform(r, margin, n - margin);
      cy = uniform(r, margin, n - margin);
    }
    double rad = r0 * uniform(r, 0.8, 1.25);
    double elong = shape == spindle ? uniform(r, 1.8, 2.6) : shape == lobed ? uniform(r, 1.0, 1.3) : uniform(r, 1.0, 1.25);
    double theta = shape == spindle ? orient0 + uniform(r, -0.35, 0.35) : uniform(r, 0, kPi);
    double lobe_phase = uniform(r, 0, 2 * kPi);
    double a = rad * std::sqrt(elong), b = rad / std::sqrt(elong);
    double dens = uniform(r, 0.7, 1.1);
    double c = std::cos(theta), s = std::sin(theta);
    int ext = static_cast<int>(std::ceil(std::max(a, b) * 1.5)) + 1;
    for (int y = std::max(0, static_cast<int>(cy) - ext); y <= std::min(n - 1, static_cast<int>(cy) + ext); ++y) {
      for (int x = std::max(0, static_cast<int>(cx) - ext); x <= std::min(n - 1, static_cast<int>(cx) + ext); ++x) {
        double dx = x + 0.5 - cx, dy = y + 0.5 - cy;
        double u = (c * dx + s * dy) / a, v = (-s * dx + c * dy) / b;
        double d = std::sqrt(u * u + v * v);
        if (shape == lobed) d /= 1.0 + 0.38 * std::sin(3 * std::atan2(v, u) + lobe_phase);
        double edge = std::clamp((1.15 - d) / 0.3, 0.0, 1.0);  // soft boundary
        if (edge <= 0) continue;
        double val = dens * edge;
        if (nucleus && d < 0.45) val *= 1.7;  // darker nucleus
        if (f.arrangement == dense) val *= 1.0 + 0.45 * (uniform(r, -1, 1));  // granular texture
        auto& o = od[static_cast<std::size_t>(y * n + x)];
        o = std::max(o, val);
      }
    }
  }
  std::normal_distribution<double> noise(0.0, 2.0);
  for (int p = 0; p < n * n; ++p) {
    double rgb[3];
    for (int k = 0; k < 3; ++k)
      rgb[k] = bg[static_cast<std::size_t>(k)] *
                   std::exp(-strength * od[static_cast<std::size_t>(p)] * absorb[static_cast<std::size_t>(k)] * 1.6) +
               noise(r);
    if (opt.channels == 3) {
      for (int k = 0; k < 3; ++k)
        out[p * 3 + k] = static_cast<std::uint8_t>(std::clamp(std::lround(rgb[k]), 0L, 255L));
    } else {
      double g = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2];
      out[p] = static_cast<std::uint8_t>(std::clamp(std::lround(g), 0L, 255L));
    }
  }
}

}  // namespace

void SynthOptions::validate() const {
  opt::validate_fields(*this);
  if (channels != 1 && channels != 3) throw UsageError(fmt::format("--channels must be 1 or 3, got {}", channels));
  if (ambiguity < 0 || ambiguity > 1) throw UsageError("ambiguity must be in [0, 1]");
}

std::int64_t SynthOptions::rows(const std::string& split) const {
  if (split == "train") return train;
  if (split == "val") return val;
  if (split == "test") return test;
  throw UsageError(fmt::format("unknown split '{}'", split));
}

DatasetInfo synth_info(const SynthOptions& opt) {
  DatasetInfo info;
  info.name = "salm-synth";
  info.num_classes = opt.classes;
  info.task = Task::multi_class;
  info.source = fmt::format("salm synth --classes {} --size {} --channels {} --seed {}", opt.classes, opt.size,
                            opt.channels, opt.seed);
  return info;
}

SplitShape synth_shape(const SynthOptions& opt, const std::string& split) {
  return SplitShape{opt.rows(split), opt.size, opt.size, opt.channels, 0};
}

std::int64_t synth_label(const SynthOptions& opt, const std::string& split, std::int64_t row) {
  std::int64_t block = row / opt.classes, pos = row % opt.classes;
  Rng r(derive_seed(opt.seed, {hash_name("label"), hash_name(split.c_str()), static_cast<std::uint64_t>(block)}));
  std::vector<std::int64_t> perm(static_cast<std::size_t>(opt.classes));
  std::iota(perm.begin(), perm.end(), 0);
  std::shuffle(perm.begin(), perm.end(), r);
  return perm[static_cast<std::size_t>(pos)];
}

SplitData synth_rows(const SynthOptions& opt, const std::string& split, std::int64_t begin, std::int64_t count) {
  SplitData d;
  d.split = split;
  d.row_begin = begin;
  d.shape = synth_shape(opt, split);
  d.shape.rows = count;
  d.images.resize(static_cast<std::size_t>(count * d.shape.image_elems()));
  d.labels.resize(static_cast<std::size_t>(count));
  for (std::int64_t i = 0; i < count; ++i) {
    std::int64_t row = begin + i;
    d.labels[static_cast<std::size_t>(i)] = synth_label(opt, split, row);
    Rng r(derive_seed(opt.seed, {hash_name("image"), hash_name(split.c_str()), static_cast<std::uint64_t>(row)}));
    render(opt, d.labels[static_cast<std::size_t>(i)], r, d.image(i));
  }
  return d;
}

}  // namespace salm::data
