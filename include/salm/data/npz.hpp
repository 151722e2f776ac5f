/// numpy `.npz` archives (zip of `.npy` members, stored or deflated) as numpy's `savez` and
/// `savez_compressed` write them. Headers are parsed and checked against the member's size, so a
/// header that lies about shape or dtype is caught before any data is used.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace salm::data {

/// A parsed `.npy` header.
struct NpyHeader {
  std::string descr;               ///< numpy dtype string: "|u1", "<i8", "<f4", "<U10", ...
  bool fortran_order = false;
  std::vector<std::int64_t> shape;
  std::int64_t data_offset = 0;    ///< bytes before the array data (magic + header)

  char kind() const;               ///< 'u', 'i', 'f', 'b', 'U', 'O', ...
  int itemsize() const;            ///< bytes per element (0 if not a fixed-size type)
  bool big_endian() const { return !descr.empty() && descr[0] == '>'; }
  std::int64_t count() const;      ///< number of elements
  std::string dtype_name() const;  ///< "uint8", "float32", "int16", "str", ...
  std::string shape_string() const;///< "(400, 28, 28)"
};

/// Parses the header at the start of a `.npy` byte stream. Throws InputError(where, ...) if it is
/// not a valid npy header. `prefix` must hold the first bytes of the member (at least 10; more
/// are requested through `need` when the header is long).
NpyHeader parse_npy_header(const std::string& where, const std::string& prefix);

class NpzArchive {
public:
  /// Opens the archive. Throws InputError for a missing, empty, non-zip or damaged file.
  explicit NpzArchive(const std::string& path);
  ~NpzArchive();
  NpzArchive(const NpzArchive&) = delete;
  NpzArchive& operator=(const NpzArchive&) = delete;

  const std::string& path() const { return path_; }
  /// Array names (member names without ".npy"), in archive order; non-npy members are skipped.
  const std::vector<std::string>& keys() const { return keys_; }
  bool has(const std::string& key) const;
  /// Header of `key`, parsed and checked against the member size on first use.
  const NpyHeader& header(const std::string& key);
  /// `bytes` bytes of array data starting `offset` bytes into the data of `key`.
  std::vector<std::uint8_t> read_data(const std::string& key, std::int64_t offset, std::int64_t bytes);

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string path_;
  std::vector<std::string> keys_;
};

/// Converts `count` integer (or bool) elements of dtype `h` to int64. Throws InputError
/// (naming `where`) for non-integer dtypes.
std::vector<std::int64_t> npy_to_int64(const NpyHeader& h, const std::uint8_t* data, std::int64_t count,
                                       const std::string& where);

}  // namespace salm::data

namespace salm::data {

/// One array to write into a `.npz`: little-endian data of dtype `descr` ("|u1", "<i8").
struct NpyArrayOut {
  std::string name;  ///< member name without ".npy"
  std::string descr;
  std::vector<std::int64_t> shape;
  const void* data = nullptr;  ///< product(shape) * itemsize bytes, alive until write_npz returns
  std::size_t bytes = 0;
};

/// The bytes of a `.npy` (format 1.0) header for `a`: magic, version, the padded header dict.
std::string npy_header_bytes(const NpyArrayOut& a);

/// Writes the arrays as numpy's savez (stored) or savez_compressed (deflated) would, into
/// `path.partial` (created exclusively), then renames it to `path`; an existing `path` is
/// replaced only with `overwrite`. Throws RuntimeError naming the file on failure, leaving nothing.
void write_npz(const std::string& path, const std::vector<NpyArrayOut>& arrays, bool deflate, bool overwrite);

}  // namespace salm::data
