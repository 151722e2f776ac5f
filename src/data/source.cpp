#include "salm/data/reader.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <fstream>

#include <fmt/format.h>

#include "salm/core/error.hpp"
#include "salm/data/h5_dataset.hpp"
#include "salm/data/idx.hpp"
#include "salm/data/medmnist.hpp"
#include "salm/dist/shard.hpp"

namespace salm::data {

bool DatasetReader::has_split(const std::string& split) const {
  return std::find(splits_.begin(), splits_.end(), split) != splits_.end();
}

const SplitShape& DatasetReader::shape(const std::string& split) const {
  auto it = std::find(splits_.begin(), splits_.end(), split);
  if (it == splits_.end()) throw InputError(path_, fmt::format("has no '{}' split", split));
  return shapes_[static_cast<std::size_t>(it - splits_.begin())];
}

void DatasetReader::require_splits(const std::vector<std::string>& required) const {
  for (const auto& s : required)
    if (!has_split(s)) throw InputError(path_, fmt::format("missing split '{}'", s));
}

void DatasetReader::add_split(const std::string& split, const SplitShape& shape) {
  splits_.push_back(split);
  shapes_.push_back(shape);
}

void DatasetReader::check_range(const std::string& split, std::int64_t begin, std::int64_t count) const {
  auto n = shape(split).rows;
  if (begin < 0 || count < 0 || begin + count > n)
    throw RuntimeError(fmt::format("{}: rows [{}, {}) requested from the {} rows of '{}'", path_, begin,
                                   begin + count, n, split));
}

SplitData DatasetReader::blank_rows(const std::string& split, std::int64_t begin, std::int64_t count) const {
  check_range(split, begin, count);
  SplitData d;
  d.split = split;
  d.row_begin = begin;
  d.shape = shape(split);
  d.shape.rows = count;
  return d;
}

SplitData DatasetReader::read_shard(const std::string& split, int rank, int size) {
  auto s = dist::shard_of(shape(split).rows, rank, size);
  return read(split, s.begin, s.size());
}

std::unique_ptr<DatasetReader> open_dataset(const std::string& path, const OpenOptions& options) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw InputError(path, "no such file");
  if (S_ISDIR(st.st_mode)) {
    if (is_idx_directory(path)) return open_idx_directory(path, options);
    throw InputError(path, "is a directory, and not one of IDX files (train-images-idx3-ubyte[.gz], ...)");
  }
  // Never open a FIFO, device or socket: reading one blocks or never ends.
  if (!S_ISREG(st.st_mode)) throw InputError(path, "is not a regular file (a FIFO, device or socket)");
  if (st.st_size == 0) throw InputError(path, "file is empty");
  char magic[8] = {0};
  {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw InputError(path, "cannot be read (permission denied?)");
    in.read(magic, sizeof(magic));
  }
  if (std::memcmp(magic, "PK", 2) == 0) return open_medmnist_npz(path, options);
  if (std::memcmp(magic, "\x89HDF\r\n\x1a\n", 8) == 0) return open_h5_dataset(path);
  throw InputError(path, "neither a MedMNIST .npz (zip) nor a salm dataset .h5 (HDF5) file");
}

}  // namespace salm::data
