/// The built-in synthetic sparse dataset (DESIGN.md section 7): PathMNIST-like brightfield
/// microscopy tiles. Most pixels are empty slide; the class is carried by the cells: their shape
/// (round, spindle, lobed), their stain (hematoxylin, eosin, DAB hues) and their arrangement and
/// texture (scattered, clustered, dense granular). Stain strength and hue, size, count and
/// placement vary per image, and 10% of the images look like another class (ambiguous tissue),
/// so a CNN learns the task well but not perfectly (at most about 90%).
///
/// Every row is a pure function of (seed, split, row): any rank can generate any rows, and the
/// output does not depend on the number of ranks.
#pragma once

#include <cstdint>
#include <string>

#include "salm/core/option_table.hpp"
#include "salm/data/dataset.hpp"

namespace salm::data {

struct SynthOptions {
  std::int64_t classes = 9;
  std::int64_t train = 4500, val = 500, test = 1000;
  std::int64_t size = 28;      ///< height = width
  std::int64_t channels = 3;   ///< 3 (RGB) or 1 (grey)
  std::uint64_t seed = 0;
  /// Fraction of images that look like another class (the irreducible error: a perfect model
  /// scores about 1 - ambiguity).
  double ambiguity = 0.10;

  template <class Self, class V>
  static void fields(Self& o, V&& v) {
    using opt::field;
    v(field("classes", o.classes, "number of classes").in(2, 1000));
    v(field("train", o.train, "train images").at_least(1));
    v(field("val", o.val, "validation images").at_least(0));
    v(field("test", o.test, "test images").at_least(1));
    v(field("size", o.size, "image height and width in pixels").in(16, 1024));
    v(field("channels", o.channels, "1 (grey) or 3 (RGB)").in(1, 3));
    v(field("seed", o.seed, "random seed (same seed, same file)"));
  }

  /// Throws UsageError for out-of-range values.
  void validate() const;
  std::int64_t rows(const std::string& split) const;
};

DatasetInfo synth_info(const SynthOptions& opt);
SplitShape synth_shape(const SynthOptions& opt, const std::string& split);

/// Rows [begin, begin+count) of `split`.
SplitData synth_rows(const SynthOptions& opt, const std::string& split, std::int64_t begin, std::int64_t count);

/// The label of one row: classes are exactly balanced within every block of `classes` rows.
std::int64_t synth_label(const SynthOptions& opt, const std::string& split, std::int64_t row);

}  // namespace salm::data
