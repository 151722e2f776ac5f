#include "salm/data/dataset.hpp"
#include "salm/data/reader.hpp"

#include <algorithm>
#include <cstdlib>

#include <fmt/format.h>

#include "salm/core/error.hpp"

namespace salm::data {

std::string to_string(Task t) {
  switch (t) {
    case Task::multi_class: return "multi-class";
    case Task::multi_label: return "multi-label";
    case Task::binary_class: return "binary-class";
    case Task::ordinal_regression: return "ordinal-regression";
  }
  return "multi-class";
}

Task parse_task(const std::string& s) {
  for (Task t : {Task::multi_class, Task::multi_label, Task::binary_class, Task::ordinal_regression})
    if (to_string(t) == s) return t;
  throw UsageError(fmt::format(
      "unknown task '{}' (multi-class, multi-label, binary-class, ordinal-regression)", s));
}

}  // namespace salm::data

namespace salm::opt {
const std::vector<std::pair<data::Task, const char*>>& EnumNames<data::Task>::values() {
  using data::Task;
  static const std::vector<std::pair<Task, const char*>> v{{Task::multi_class, "multi-class"},
                                                           {Task::multi_label, "multi-label"},
                                                           {Task::binary_class, "binary-class"},
                                                           {Task::ordinal_regression, "ordinal-regression"}};
  return v;
}
}  // namespace salm::opt

namespace salm::data {

std::string check_labels(const std::vector<std::int64_t>& labels, std::int64_t label_dim, Task task,
                         std::int64_t num_classes, const std::string& what, std::int64_t row_offset) {
  if (task == Task::multi_label) {
    if (label_dim != num_classes)
      return fmt::format("{} has {} labels per image but the dataset declares {}", what, label_dim,
                         num_classes);
    for (std::size_t i = 0; i < labels.size(); ++i)
      if (labels[i] != 0 && labels[i] != 1)
        return fmt::format("{}[{}][{}] = {}: multi-label labels must be 0 or 1", what,
                           row_offset + static_cast<std::int64_t>(i) / label_dim,
                           static_cast<std::int64_t>(i) % label_dim, labels[i]);
    return "";
  }
  if (label_dim > 1)
    return fmt::format("{} has {} labels per image, but the task is {}", what, label_dim, to_string(task));
  for (std::size_t i = 0; i < labels.size(); ++i)
    if (labels[i] < 0 || labels[i] >= num_classes)
      return fmt::format("{}[{}] = {} is outside [0, {}) for {} classes", what,
                         row_offset + static_cast<std::int64_t>(i), labels[i], num_classes, num_classes);
  return "";
}

double background_fraction(const std::uint8_t* image, std::int64_t height, std::int64_t width,
                           std::int64_t channels, int tolerance) {
  if (height <= 0 || width <= 0 || channels <= 0) return 0.0;
  std::vector<int> bg(static_cast<std::size_t>(channels));
  std::vector<std::uint8_t> border;
  border.reserve(static_cast<std::size_t>(2 * (height + width)));
  for (std::int64_t c = 0; c < channels; ++c) {
    border.clear();
    for (std::int64_t y = 0; y < height; ++y)
      for (std::int64_t x = 0; x < width; ++x)
        if (y == 0 || x == 0 || y == height - 1 || x == width - 1)
          border.push_back(image[(y * width + x) * channels + c]);
    std::nth_element(border.begin(), border.begin() + static_cast<std::ptrdiff_t>(border.size() / 2),
                     border.end());
    bg[static_cast<std::size_t>(c)] = border[border.size() / 2];
  }
  std::int64_t n = 0;
  for (std::int64_t p = 0; p < height * width; ++p) {
    bool is_bg = true;
    for (std::int64_t c = 0; c < channels && is_bg; ++c)
      is_bg = std::abs(static_cast<int>(image[p * channels + c]) - bg[static_cast<std::size_t>(c)]) <= tolerance;
    n += is_bg;
  }
  return static_cast<double>(n) / static_cast<double>(height * width);
}

}  // namespace salm::data
