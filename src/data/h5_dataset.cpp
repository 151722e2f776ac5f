#include "salm/data/h5_dataset.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "salm/core/error.hpp"
#include "salm/core/system.hpp"

namespace salm::data {
namespace {

/// How much larger than its stored bytes a compressed image dataset may be: far beyond what any
/// compression achieves on images (uncompressed data is held to its size).
constexpr double kMaxCompression = 1000;

/// An HDF5 failure while reading a file the user gave is a damaged input (exit 2), named by the
/// file: a dangling or external link, a group where a dataset belongs, damaged metadata.
template <typename F>
auto as_input_error(const std::string& path, F read) -> decltype(read()) {
  try {
    return read();
  } catch (const Hdf5Error& e) {
    throw InputError(path, fmt::format("is damaged or not a salm dataset: {}", e.what()));
  }
}

class H5DatasetReader final : public DatasetReader {
public:
  explicit H5DatasetReader(const std::string& path) : DatasetReader(path), file_(io::H5File::open_read(path)) {
    for (const auto& split : split_names()) {
      std::string ig = "/" + split + "/images", lg = "/" + split + "/labels";
      bool hi = file_.exists(ig), hl = file_.exists(lg);
      if (!hi && !hl) continue;
      if (!hi || !hl)
        throw InputError(path, fmt::format("has {} but no {}", hi ? ig : lg, hi ? lg : ig));
      auto d = file_.dims(ig);
      if (d.size() != 4 || (d[3] != 1 && d[3] != 3))
        throw InputError(path, fmt::format("{} has {} dimensions{}; expected [N,H,W,C] with C = 1 or 3", ig,
                                           d.size(), d.size() == 4 ? fmt::format(" (C = {})", d[3]) : ""));
      if (d[0] <= 0) throw InputError(path, fmt::format("{} has no rows", ig));
      if (d[1] <= 0 || d[2] <= 0) throw InputError(path, fmt::format("{} has an empty height or width", ig));
      // Declared sizes are checked against what the file can hold before anything is allocated:
      // a header of 2^30 rows in a file of kilobytes is damage, not a dataset.
      if (auto stored = file_.storage_bytes(ig); stored.has_value()) {
        const double declared = static_cast<double>(d[0]) * static_cast<double>(d[1] * d[2] * d[3]);
        if (declared > static_cast<double>(std::max<std::int64_t>(*stored, 1)) * kMaxCompression)
          throw InputError(path, fmt::format("{} declares {} images of {}x{}x{} ({:.3g} bytes) but the file stores {} bytes of them",
                                             ig, d[0], d[1], d[2], d[3], declared, *stored));
      }
      if (file_.type(ig) != io::H5Type::u8)
        throw InputError(path, fmt::format("{} has type {}; uint8 images are required", ig, file_.type_name(ig)));
      auto l = file_.dims(lg);
      if (l.empty() || l.size() > 2 || l[0] != d[0] || (l.size() == 2 && l[1] < 1))
        throw InputError(path, fmt::format("{} has shape [{}] for {} images", lg,
                                           fmt::join(l, ","), d[0]));
      std::string lt = file_.type_name(lg);
      if (lt.find("int") == std::string::npos)
        throw InputError(path, fmt::format("{} has type {}; integer labels are required", lg, lt));
      add_split(split, SplitShape{d[0], d[1], d[2], d[3], l.size() == 2 ? l[1] : 0});
    }
    if (splits().empty())
      throw InputError(path, "has no /train, /val or /test images and labels (not a salm dataset file)");
    const SplitShape& first = shape(splits().front());
    for (const auto& split : splits())
      if (!shape(split).same_image_shape(first))
        throw InputError(path, fmt::format("split '{}' has a different image or label shape than '{}'", split,
                                           splits().front()));
    auto nc = file_.attr_int("/", "num_classes");
    if (!nc || *nc < 1) throw InputError(path, "root attribute 'num_classes' is missing or not a positive integer");
    if (*nc > kMaxClasses)
      throw InputError(path, fmt::format("root attribute 'num_classes' is {}: not a number of classes (at most {})", *nc,
                                         kMaxClasses));
    info_.num_classes = *nc;
    info_.name = file_.attr_string("/", "name").value_or("");
    info_.source = file_.attr_string("/", "source").value_or("");
    auto task = file_.attr_string("/", "task");
    if (task) {
      try {
        info_.task = parse_task(*task);
      } catch (const UsageError& e) {
        throw InputError(path, fmt::format("root attribute 'task': {}", e.what()));
      }
    } else {
      info_.task = first.label_dim > 0 ? Task::multi_label : Task::multi_class;
    }
  }

  SplitData read(const std::string& split, std::int64_t begin, std::int64_t count) override {
    SplitData d = blank_rows(split, begin, count);
    d.images = as_input_error(path_, [&] { return file_.read_rows<std::uint8_t>("/" + split + "/images", begin, count); });
    d.labels = read_labels(split, begin, count);
    return d;
  }

  std::vector<std::int64_t> read_labels(const std::string& split, std::int64_t begin, std::int64_t count) override {
    check_range(split, begin, count);
    auto labels =
        as_input_error(path_, [&] { return file_.read_rows<std::int64_t>("/" + split + "/labels", begin, count); });
    std::string p = check_labels(labels, shape(split).label_dim, info_.task, info_.num_classes,
                                 "/" + split + "/labels", begin);
    if (!p.empty()) throw InputError(path_, p);
    return labels;
  }

private:
  io::H5File file_;
};

}  // namespace

std::unique_ptr<DatasetReader> open_h5_dataset(const std::string& path) {
  // HDF5 1.10.8 can crash on damaged metadata (a variable-length string whose global-heap entry
  // lies: memcpy past the end in H5HG_read; found by the malformed-input corpus and the fuzzer).
  // Everything the reader checks at open is done first in a disposable child: a crash there is
  // a refusal here, not a segfault of the job.
  auto child = run_in_child([&] { H5DatasetReader probe(path); }, 60.0);
  if (child.signal != 0)
    throw InputError(path, fmt::format("is damaged: the HDF5 library crashed (signal {}) reading its metadata", child.signal));
  if (child.timed_out) throw InputError(path, "is damaged: the HDF5 library did not finish reading its metadata in 60 s");
  return as_input_error(path, [&]() -> std::unique_ptr<DatasetReader> { return std::make_unique<H5DatasetReader>(path); });
}

}  // namespace salm::data
