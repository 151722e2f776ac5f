/// The noise file of `salm protect` (DESIGN.md section 4): one HDF5 file for the whole split,
/// rows in dataset order. `/delta` float32 [N,H,W,C], `/mask` uint8 [N,H,W], `/protected` uint8
/// [N,H,W,C] = clip(round(255*(x+delta))), `/labels` int64 [N] or [N,L], `/index` int64 [N] (row
/// in the source split); root attributes hold the method, every option, provenance and results.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "salm/core/option_table.hpp"
#include "salm/dist/communicator.hpp"
#include "salm/io/h5.hpp"

namespace salm::io {

struct NoiseLayout {
  std::int64_t rows = 0, height = 0, width = 0, channels = 0;
  std::int64_t label_dim = 0;  ///< 0: labels [N]; L: labels [N, L]
};

/// Creates the datasets (collective when parallel).
void create_noise_layout(H5File& file, const NoiseLayout& layout);

/// One rank's rows, all arrays row-major with the layout's trailing dimensions (collective).
struct NoiseRows {
  std::int64_t row_begin = 0, rows = 0;
  const float* delta = nullptr;             ///< [rows, H, W, C]
  const std::uint8_t* mask = nullptr;       ///< [rows, H, W]
  const std::uint8_t* protected_ = nullptr; ///< [rows, H, W, C]
  const std::int64_t* labels = nullptr;     ///< [rows] or [rows, L]
  const std::int64_t* index = nullptr;      ///< [rows]
};
void write_noise_rows(H5File& file, const NoiseRows& rows);

/// Whether an open file looks like a noise file (has /delta, /mask and /protected).
bool is_noise_file(const H5File& file);

/// Root attributes of a noise file, in the user's units (booleans are stored as 0/1 integers).
using Attributes = std::vector<std::pair<std::string, opt::Value>>;
void write_attributes(H5File& file, const Attributes& attrs);

/// Writes a whole noise file (collective): `OUT.partial`, every rank's rows, the attributes, then
/// the rename to `path` (io/publish.hpp: never a half-written file at `path`).
void write_noise_file(const std::string& path, bool overwrite, dist::Communicator& comm, const NoiseLayout& layout,
                      const NoiseRows& rows, const Attributes& attrs);

/// A noise file opened for reading on this rank (no collective), checked to be one.
class NoiseFile {
public:
  /// InputError naming the file unless it is an HDF5 file with /delta, /mask and /protected.
  static NoiseFile open(const std::string& path);

  const std::string& path() const { return file_.path(); }
  const H5File& h5() const { return file_; }
  /// Rows (the size of /protected's first dimension).
  std::int64_t rows() const;
  /// The split of its source that it protects (the `split` attribute; train when absent).
  std::string split() const;
  /// The dataset it was made from (the `source` attribute), if recorded.
  std::optional<std::string> source() const;

private:
  explicit NoiseFile(H5File f) : file_(std::move(f)) {}
  H5File file_;
};

/// SHA-256 of a file's bytes, as lowercase hex. Throws InputError if it cannot be read.
std::string sha256_file(const std::string& path);  ///< a directory (IDX): over its files, sorted by name

}  // namespace salm::io
