/// Reading a dataset, whole or sharded: the one interface over MedMNIST `.npz` files and salm
/// dataset `.h5` files. A reader validates the file when it is opened (shapes, dtypes, labels,
/// splits), so that a bad file fails at once with one clear line naming it and the problem.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "salm/core/option_table.hpp"
#include "salm/data/dataset.hpp"

namespace salm::opt {
template <> struct EnumNames<data::Task> {
  static const std::vector<std::pair<data::Task, const char*>>& values();
};
}  // namespace salm::opt

namespace salm::data {

/// What the user may say about a file whose metadata is not stored in it (npz, IDX).
struct OpenOptions {
  std::string name;                         ///< else the file's stem
  std::optional<std::int64_t> num_classes;  ///< else inferred (max label + 1, or L)
  std::optional<Task> task;                 ///< else inferred from the label shape

  template <class Self, class V>
  static void fields(Self& o, V&& v) {
    using opt::field;
    v(field("name", o.name, "dataset name for .npz or IDX input (default: the file's stem)").not_result());
    v(field("num-classes", o.num_classes,
            "number of classes of .npz or IDX input (default: max label + 1, or labels per image)")
          .in(1, 100000)
          .not_result());
    v(field("task", o.task,
            "task of .npz or IDX input: multi-class, multi-label, binary-class or ordinal-regression (default: from "
            "the label shape)")
          .not_result());
  }
  void validate() const { opt::validate_fields(*this); }
};

class DatasetReader {
public:
  virtual ~DatasetReader() = default;
  const std::string& path() const { return path_; }
  const DatasetInfo& info() const { return info_; }
  /// Splits present, in the order train, val, test.
  const std::vector<std::string>& splits() const { return splits_; }
  bool has_split(const std::string& split) const;
  /// Shape of a whole split; throws InputError for a split the file lacks.
  const SplitShape& shape(const std::string& split) const;

  /// Rows [begin, begin+count) of `split`. Reads only those rows from disk where the format
  /// allows (HDF5 hyperslab; stored npz members are seeked, deflated ones are streamed).
  virtual SplitData read(const std::string& split, std::int64_t begin, std::int64_t count) = 0;
  /// Only the labels of rows [begin, begin+count) ([count] or [count, L] row-major).
  virtual std::vector<std::int64_t> read_labels(const std::string& split, std::int64_t begin, std::int64_t count) = 0;
  /// The rows rank `rank` of `size` owns (dist::shard_of).
  SplitData read_shard(const std::string& split, int rank, int size);
  /// The whole split.
  SplitData read_all(const std::string& split) { return read(split, 0, shape(split).rows); }

  /// Throws InputError unless every split in `required` is present.
  void require_splits(const std::vector<std::string>& required) const;

protected:
  explicit DatasetReader(std::string path) : path_(std::move(path)) {}
  void add_split(const std::string& split, const SplitShape& shape);
  void check_range(const std::string& split, std::int64_t begin, std::int64_t count) const;
  /// Checks the range and returns rows [begin, begin+count) of `split` with shape set, no data yet.
  SplitData blank_rows(const std::string& split, std::int64_t begin, std::int64_t count) const;

  std::string path_;
  DatasetInfo info_;

private:
  std::vector<std::string> splits_;
  std::vector<SplitShape> shapes_;
};

/// Opens a dataset by content: a zip archive is read as MedMNIST `.npz`, an HDF5 file as a salm
/// dataset. Throws InputError for a missing, empty or unrecognised file.
std::unique_ptr<DatasetReader> open_dataset(const std::string& path, const OpenOptions& options = {});

}  // namespace salm::data
