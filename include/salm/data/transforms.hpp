/// The robustness audit's preprocessing: what a user may do to published images before training
/// (and what is known to break unlearnable examples), on uint8 NHWC images. Pure C++, no Torch.
///
/// Every transform keeps the image shape (H, W and C), so a victim sees the same input size:
///   filter    3x3 mean, median or Gaussian ([1 2 1]/16 in each direction), edges replicated;
///   crop F    centre crop to round(F*H) x round(F*W) pixels, bilinear resize back to H x W;
///   grayscale ITU-R BT.601 luma (0.299 R + 0.587 G + 0.114 B, rounded) in every channel;
///   jpeg Q    encode (stb_image_write, quality Q) and decode (stb_image) in memory.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "salm/core/option_table.hpp"
#include "salm/data/dataset.hpp"

namespace salm::data {
enum class Filter { none, mean, median, gaussian };
}  // namespace salm::data

namespace salm::opt {
template <> struct EnumNames<data::Filter> {
  static const std::vector<std::pair<data::Filter, const char*>>& values();
};
}  // namespace salm::opt

namespace salm::data {

/// 3x3 filter of one image, each channel on its own; pixels outside the image repeat the
/// nearest edge pixel. Mean and Gaussian round to the nearest integer. `out` must not alias `in`.
void filter_image(const std::uint8_t* in, std::uint8_t* out, std::int64_t height, std::int64_t width,
                  std::int64_t channels, Filter f);
/// Centre crop to `fraction` (0, 1] of the height and width (at least one pixel), then bilinear
/// resize (half-pixel centres) back to height x width. fraction 1 is the identity.
void crop_resize_image(const std::uint8_t* in, std::uint8_t* out, std::int64_t height, std::int64_t width,
                       std::int64_t channels, double fraction);
/// BT.601 luma written to every channel, in place: (299 R + 587 G + 114 B + 500) / 1000.
/// An image of 1 channel is left as it is.
void grayscale_image(std::uint8_t* image, std::int64_t height, std::int64_t width, std::int64_t channels);
/// JPEG round trip at `quality` (1..100), in place. 1-channel images stay 1 channel (stb writes
/// grey as YCbCr with zero chroma; the decoder returns the luma plane). Channels must be 1 or 3.
void jpeg_image(std::uint8_t* image, std::int64_t height, std::int64_t width, std::int64_t channels, int quality);

/// The preprocessing of one victim run. Filter and JPEG model a purification of the published
/// (training) data; crop and grayscale model the user's input pipeline, so they also apply to
/// the test images. Order: filter, jpeg, crop, grayscale.
struct Preprocessing {
  Filter filter = Filter::none;
  double crop = 1.0;       ///< (0, 1]; 1: none
  bool grayscale = false;
  int jpeg = 0;            ///< 1..100; 0: none

  /// UsageError naming the option (--crop, --jpeg) for a value out of range.
  void validate() const;
  bool empty() const { return filter == Filter::none && crop == 1.0 && !grayscale && jpeg == 0; }
  /// Human-readable steps in order ("filter median 3x3 (train)", "crop 0.8 (train, test)"), or
  /// "none".
  std::string describe() const;
  /// The steps as (name, value, applies to test too).
  struct Step {
    std::string name, value;
    bool test = false;
  };
  std::vector<Step> steps() const;

  /// In place, on every row.
  void apply_train(data::SplitData& d) const;
  void apply_test(data::SplitData& d) const;
};

/// Whole-split versions of the transforms above, in place.
void apply_filter(data::SplitData& d, Filter f);
void apply_crop(data::SplitData& d, double fraction);
void apply_grayscale(data::SplitData& d);
void apply_jpeg(data::SplitData& d, int quality);

}  // namespace salm::data
