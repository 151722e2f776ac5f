/// The in-memory dataset of salm: uint8 NHWC images and int64 labels of a range of rows of one
/// split, plus the dataset's metadata. No Torch here: tensors are made where models need them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace salm::data {

/// MedMNIST's task kinds (the `task` attribute of a dataset file).
enum class Task { multi_class, multi_label, binary_class, ordinal_regression };
std::string to_string(Task t);
/// Parses "multi-class", "multi-label", "binary-class", "ordinal-regression"; throws UsageError.
Task parse_task(const std::string& s);

/// The canonical split names, in file order.
inline const std::vector<std::string>& split_names() {
  static const std::vector<std::string> names{"train", "val", "test"};
  return names;
}

/// The most classes (or labels per image) salm accepts: a label beyond it is damage, not a class.
inline constexpr std::int64_t kMaxClasses = 100000;

struct DatasetInfo {
  std::string name;
  std::int64_t num_classes = 0;  ///< classes, or labels per image for multi-label
  Task task = Task::multi_class;
  std::string source;            ///< where it came from ("salm synth seed=0", "pathmnist.npz")
};

/// Shape of one whole split.
struct SplitShape {
  std::int64_t rows = 0, height = 0, width = 0, channels = 0;
  std::int64_t label_dim = 0;  ///< 0: labels [N]; L >= 1: labels [N, L] (multi-label)
  std::int64_t image_elems() const { return height * width * channels; }
  std::int64_t label_elems() const { return label_dim == 0 ? 1 : label_dim; }
  bool same_image_shape(const SplitShape& o) const {
    return height == o.height && width == o.width && channels == o.channels && label_dim == o.label_dim;
  }
};

/// Rows [row_begin, row_begin + shape.rows) of split `split`.
struct SplitData {
  std::string split;
  std::int64_t row_begin = 0;
  SplitShape shape;                  ///< shape.rows = rows held here
  std::vector<std::uint8_t> images;  ///< [rows, H, W, C] row-major
  std::vector<std::int64_t> labels;  ///< [rows] or [rows, L]

  std::int64_t rows() const { return shape.rows; }
  const std::uint8_t* image(std::int64_t i) const { return images.data() + i * shape.image_elems(); }
  std::uint8_t* image(std::int64_t i) { return images.data() + i * shape.image_elems(); }
};

/// Checks labels against the task: in [0, num_classes) for single-label tasks; 0/1 and
/// L == num_classes for multi-label. Returns "" or the problem ("train_labels[17] = 12 is outside
/// [0, 9)"). `what` names the array in the message.
std::string check_labels(const std::vector<std::int64_t>& labels, std::int64_t label_dim, Task task,
                         std::int64_t num_classes, const std::string& what, std::int64_t row_offset = 0);

/// Fraction of pixels that are background: within `tolerance` (all channels) of the image's
/// background colour, estimated as the per-channel median of its border pixels. Works for dark
/// (MRI, X-ray) and bright (brightfield slide) backgrounds alike.
double background_fraction(const std::uint8_t* image, std::int64_t height, std::int64_t width,
                           std::int64_t channels, int tolerance = 16);

}  // namespace salm::data
