/// RAII over HDF5 and the few operations salm needs: open/create files (serial or MPI-IO),
/// create datasets, read/write row ranges (collectively when parallel), attributes.
///
/// Every HDF5 call is checked: a negative status becomes salm::Hdf5Error with the call, the
/// library's own message and file:line. Handles are move-only; destructors never throw.
#pragma once

#include <hdf5.h>
#include <mpi.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace salm::io {

/// A move-only HDF5 identifier with its close function (H5Fclose, H5Dclose, ...).
class H5Id {
public:
  using Closer = herr_t (*)(hid_t);
  H5Id() = default;
  H5Id(hid_t id, Closer closer) : id_(id), closer_(closer) {}
  ~H5Id() { reset(); }
  H5Id(H5Id&& o) noexcept : id_(o.id_), closer_(o.closer_) { o.id_ = H5I_INVALID_HID; }
  H5Id& operator=(H5Id&& o) noexcept;
  H5Id(const H5Id&) = delete;
  H5Id& operator=(const H5Id&) = delete;

  hid_t get() const { return id_; }
  explicit operator bool() const { return id_ >= 0; }
  /// Closes now; logs (never throws) on failure.
  void reset() noexcept;
  /// Closes now and throws Hdf5Error on failure (used where a failed close means lost data).
  void close();
  /// Forgets the handle without closing it (a collective close cannot run on one failing rank).
  void release() noexcept { id_ = H5I_INVALID_HID; }

private:
  hid_t id_ = H5I_INVALID_HID;
  Closer closer_ = nullptr;
};

/// Element types salm stores.
enum class H5Type { u8, i64, f32, f64, other };
/// Human name of a stored type ("uint8", "float32", "int16", ...).
std::string describe_type(hid_t type);

template <typename T> hid_t native_type();
template <> inline hid_t native_type<std::uint8_t>() { return H5T_NATIVE_UINT8; }
template <> inline hid_t native_type<std::int64_t>() { return H5T_NATIVE_INT64; }
template <> inline hid_t native_type<float>() { return H5T_NATIVE_FLOAT; }
template <> inline hid_t native_type<double>() { return H5T_NATIVE_DOUBLE; }

/// An open HDF5 file. Parallel (MPI-IO, collective metadata and transfers) when created or
/// opened with a communicator of more than one rank; plain POSIX otherwise.
class H5File {
public:
  /// Closes a serial file quietly; a parallel one still open is abandoned (see abandon()): a
  /// collective close from one unwinding rank would wait forever for the others.
  ~H5File() { abandon(); }
  H5File(H5File&&) noexcept = default;
  H5File& operator=(H5File&&) noexcept = default;

  /// Opens an existing file read-only on this rank alone (no collective). Throws InputError
  /// if it does not exist or is not HDF5.
  static H5File open_read(const std::string& path);
  /// Creates a new file; fails if it exists (never truncates). Collective over `comm` when
  /// comm is not MPI_COMM_NULL and has more than one rank.
  static H5File create_exclusive(const std::string& path, MPI_Comm comm);

  const std::string& path() const { return path_; }
  hid_t id() const { return file_.get(); }
  bool parallel() const { return parallel_; }

  /// Whether `name` ("/train/images") exists (every intermediate group too).
  bool exists(const std::string& name) const;
  /// Dimensions of dataset `name`.
  std::vector<std::int64_t> dims(const std::string& name) const;
  /// Bytes a dataset's data occupies in the file (H5Dget_storage_size: 0 for data never
  /// written), or nullopt if HDF5 cannot say. Used to refuse headers that claim far more data
  /// than a file holds.
  std::optional<std::int64_t> storage_bytes(const std::string& name) const;
  /// Stored element type of dataset `name` and its description.
  H5Type type(const std::string& name) const;
  std::string type_name(const std::string& name) const;

  /// Creates group `name` (collective when parallel). Parents must exist.
  void create_group(const std::string& name);
  /// Creates a contiguous dataset (collective when parallel).
  template <typename T>
  void create_dataset(const std::string& name, const std::vector<std::int64_t>& dims);

  /// Writes rows [row_begin, row_begin+rows) of dataset `name` from `data` (row-major, the
  /// full trailing dimensions). Collective when parallel: every rank calls it, possibly with
  /// rows == 0.
  template <typename T>
  void write_rows(const std::string& name, std::int64_t row_begin, std::int64_t rows, const T* data);
  /// Reads rows [row_begin, row_begin+rows) of dataset `name` (converted to T by HDF5).
  template <typename T>
  std::vector<T> read_rows(const std::string& name, std::int64_t row_begin, std::int64_t rows) const;
  template <typename T>
  std::vector<T> read_all(const std::string& name) const;

  /// Attributes on object `obj` ("/" for the root). Writing is collective when parallel:
  /// every rank passes the same value.
  void set_attr(const std::string& obj, const std::string& name, const std::string& value);
  void set_attr(const std::string& obj, const std::string& name, std::int64_t value);
  void set_attr(const std::string& obj, const std::string& name, double value);
  std::optional<std::string> attr_string(const std::string& obj, const std::string& name) const;
  std::optional<std::int64_t> attr_int(const std::string& obj, const std::string& name) const;
  std::optional<double> attr_double(const std::string& obj, const std::string& name) const;
  /// Names of the attributes of `obj`.
  std::vector<std::string> attr_names(const std::string& obj) const;

  /// Flushes and closes; throws on failure. The destructor closes quietly. A file this run
  /// wrote gives back the disk space reserved beyond its end.
  void close();
  /// Error path: closes quietly when serial; when parallel, abandons the handle (closing is
  /// collective and the other ranks may be gone; the job is about to end).
  void abandon() noexcept;

private:
  H5File(std::string path, H5Id file, bool parallel, MPI_Comm comm = MPI_COMM_NULL)
      : path_(std::move(path)), file_(std::move(file)), parallel_(parallel), comm_(comm) {}
  /// Runs one step of writing. Parallel: collective, every rank learns whether any rank failed
  /// and throws the same error (no rank goes on to a collective the others skip). The message
  /// names the file; a full disk reads "no space left on device writing FILE".
  template <typename F> void agreed(const std::string& what, F step);
  /// Before the first write (and whenever datasets were added): the whole file's disk space is
  /// reserved at once (fallocate; a statvfs check where the file system cannot), so that a disk
  /// too small fails here, cleanly and alike on every rank, not half-way through a write or in
  /// a collective close.
  void reserve_space();
  void write_rows_raw(const std::string& name, std::int64_t row_begin, std::int64_t rows,
                      hid_t memtype, const void* data);
  void read_rows_raw(const std::string& name, std::int64_t row_begin, std::int64_t rows,
                     hid_t memtype, void* data) const;
  void create_dataset_raw(const std::string& name, const std::vector<std::int64_t>& dims, hid_t type);
  std::int64_t row_elems(const std::string& name) const;

  std::string path_;
  H5Id file_;
  bool parallel_ = false;
  MPI_Comm comm_ = MPI_COMM_NULL;
  std::int64_t created_bytes_ = 0;   // raw data of the datasets created by this handle
  std::int64_t reserved_bytes_ = 0;  // disk space reserved so far
};

template <typename T>
void H5File::create_dataset(const std::string& name, const std::vector<std::int64_t>& dims) {
  create_dataset_raw(name, dims, native_type<T>());
}
template <typename T>
void H5File::write_rows(const std::string& name, std::int64_t row_begin, std::int64_t rows, const T* data) {
  write_rows_raw(name, row_begin, rows, native_type<T>(), data);
}
template <typename T>
std::vector<T> H5File::read_rows(const std::string& name, std::int64_t row_begin, std::int64_t rows) const {
  std::vector<T> out(static_cast<std::size_t>(rows * row_elems(name)));
  read_rows_raw(name, row_begin, rows, native_type<T>(), out.data());
  return out;
}
template <typename T>
std::vector<T> H5File::read_all(const std::string& name) const {
  auto d = dims(name);
  return read_rows<T>(name, 0, d.empty() ? 1 : d[0]);
}

/// Silences HDF5's automatic error printing (salm reports errors itself). Idempotent.
void quiet_hdf5_errors();

/// True once closing an HDF5 file failed (e.g. its last flush met a full disk). HDF5 then keeps
/// the half-closed file and its exit-time clean-up crashes on it; `main` ends the process with
/// std::_Exit after its own clean-up instead (nothing of salm's is left unwritten by that).
bool hdf5_close_failed();

/// Whether writers reserve their disk space before the first write (default yes). Off only for
/// tests of the error path half-way through a write (SALM_TEST_NO_RESERVE, docs/testing.md).
void set_space_reservation(bool on);

/// The user's name for a file salm writes: `OUT` for `OUT.partial`.
std::string output_name(const std::string& path);

namespace detail {
/// Throws Hdf5Error naming `call`, HDF5's innermost message and file:line if `status` < 0.
std::int64_t check_h5(std::int64_t status, const char* call, const char* file, int line);
}  // namespace detail

}  // namespace salm::io

#define SALM_CHECK_H5(call) ::salm::io::detail::check_h5((call), #call, __FILE__, __LINE__)
