#include "salm/io/h5.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstring>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "salm/core/error.hpp"

namespace salm::io {
namespace {

herr_t collect_error(unsigned n, const H5E_error2_t* err, void* data) {
  auto* msgs = static_cast<std::vector<std::string>*>(data);
  (void)n;
  if (err && err->desc && *err->desc) msgs->push_back(err->desc);
  return 0;
}

std::string hdf5_message() {
  std::vector<std::string> msgs;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, collect_error, &msgs);
  H5Eclear2(H5E_DEFAULT);
  if (msgs.empty()) return "unknown HDF5 error";
  if (msgs.size() == 1) return msgs.front();
  return msgs.front() + ": " + msgs.back();
}

std::atomic<bool> g_close_failed{false};
std::atomic<bool> g_reserve{true};

std::string dir_of(const std::string& path) {
  auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

/// Free bytes for an unprivileged writer on the file system holding `path`, if known.
std::optional<std::int64_t> free_bytes(const std::string& path) {
  struct statvfs v {};
  if (::statvfs(dir_of(path).c_str(), &v) != 0) return std::nullopt;
  return static_cast<std::int64_t>(v.f_bavail) * static_cast<std::int64_t>(v.f_frsize);
}

std::string mib(std::int64_t bytes) { return fmt::format("{:.1f} MiB", static_cast<double>(bytes) / (1 << 20)); }

/// One line for a failed write: a full disk or quota said in plain words, else HDF5's cause.
std::string write_failure(const std::string& path, const std::string& what, const std::string& cause) {
  auto has = [&](const char* s) { return cause.find(s) != std::string::npos; };
  std::string name = output_name(path);
  auto free = free_bytes(path);
  if (has("No space left") || has("errno = 28") || has("NO_SPACE") || (free && *free == 0))
    return fmt::format("no space left on device writing {} ({} failed)", name, what);
  if (has("quota") || has("errno = 122") || has("QUOTA"))
    return fmt::format("disk quota exceeded writing {} ({} failed)", name, what);
  return fmt::format("{}: cannot {}: {}", name, what, cause);
}

struct Quiet {
  Quiet() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }
};

/// Splits "/a/b/c" into "/a", "/a/b", "/a/b/c" for H5Lexists along the path.
std::vector<std::string> prefixes(const std::string& name) {
  std::vector<std::string> out;
  for (std::size_t i = 1; i <= name.size(); ++i)
    if (i == name.size() || name[i] == '/') out.push_back(name.substr(0, i));
  return out;
}

}  // namespace

void quiet_hdf5_errors() { static Quiet q; }

bool hdf5_close_failed() { return g_close_failed.load(); }

void set_space_reservation(bool on) { g_reserve = on; }

std::string output_name(const std::string& path) {
  const std::string suffix = ".partial";
  if (path.size() > suffix.size() && path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0)
    return path.substr(0, path.size() - suffix.size());
  return path;
}

namespace detail {
std::int64_t check_h5(std::int64_t status, const char* call, const char* file, int line) {
  if (status >= 0) return status;
  throw Hdf5Error(fmt::format("HDF5 call {} failed: {} ({}:{})", call, hdf5_message(), file, line));
}
}  // namespace detail

H5Id& H5Id::operator=(H5Id&& o) noexcept {
  if (this != &o) {
    reset();
    id_ = o.id_;
    closer_ = o.closer_;
    o.id_ = H5I_INVALID_HID;
  }
  return *this;
}

void H5Id::reset() noexcept {
  if (id_ >= 0 && closer_) {
    if (closer_(id_) < 0) {
      if (closer_ == &H5Fclose) g_close_failed = true;
      spdlog::debug("closing an HDF5 handle failed: {}", hdf5_message());
    }
  }
  id_ = H5I_INVALID_HID;
}

void H5Id::close() {
  if (id_ >= 0 && closer_) {
    hid_t id = id_;
    id_ = H5I_INVALID_HID;
    if (closer_(id) < 0) {
      if (closer_ == &H5Fclose) g_close_failed = true;
      detail::check_h5(-1, "H5Fclose", __FILE__, __LINE__);
    }
  }
}

std::string describe_type(hid_t type) {
  H5T_class_t cls = H5Tget_class(type);
  std::size_t size = H5Tget_size(type);
  switch (cls) {
    case H5T_INTEGER:
      return fmt::format("{}int{}", H5Tget_sign(type) == H5T_SGN_NONE ? "u" : "", size * 8);
    case H5T_FLOAT: return fmt::format("float{}", size * 8);
    case H5T_STRING: return "string";
    default: return fmt::format("HDF5 type class {}", static_cast<int>(cls));
  }
}

H5File H5File::open_read(const std::string& path) {
  quiet_hdf5_errors();
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw InputError(path, "no such file");
  if (S_ISDIR(st.st_mode)) throw InputError(path, "is a directory, not a file");
  if (!S_ISREG(st.st_mode)) throw InputError(path, "is not a regular file (a FIFO, device or socket)");
  if (st.st_size == 0) throw InputError(path, "file is empty");
  htri_t is = H5Fis_hdf5(path.c_str());
  if (is <= 0) {
    H5Eclear2(H5E_DEFAULT);
    throw InputError(path, "not an HDF5 file");
  }
  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) throw InputError(path, "cannot open HDF5 file: " + hdf5_message());
  return H5File(path, H5Id(f, H5Fclose), false);
}

H5File H5File::create_exclusive(const std::string& path, MPI_Comm comm) {
  quiet_hdf5_errors();
  int size = 1;
  if (comm != MPI_COMM_NULL) MPI_Comm_size(comm, &size);
  bool parallel = size > 1;
  H5Id fapl(SALM_CHECK_H5(H5Pcreate(H5P_FILE_ACCESS)), H5Pclose);
  if (parallel) {
    SALM_CHECK_H5(H5Pset_fapl_mpio(fapl.get(), comm, MPI_INFO_NULL));
    SALM_CHECK_H5(H5Pset_all_coll_metadata_ops(fapl.get(), true));
    SALM_CHECK_H5(H5Pset_coll_metadata_write(fapl.get(), true));
  }
  // EXCL, never TRUNC: a parallel create with TRUNC silently clobbers a file open elsewhere.
  hid_t f = H5Fcreate(path.c_str(), H5F_ACC_EXCL, H5P_DEFAULT, fapl.get());
  if (f < 0) throw Hdf5Error(fmt::format("{}: cannot create HDF5 file: {}", path, hdf5_message()));
  return H5File(path, H5Id(f, H5Fclose), parallel, parallel ? comm : MPI_COMM_NULL);
}

template <typename F>
void H5File::agreed(const std::string& what, F step) {
  std::string err;
  try {
    step();
  } catch (const Error& e) {
    err = e.what();
    if (dynamic_cast<const Hdf5Error*>(&e)) err = write_failure(path_, what, err);
  }
  if (parallel_) {
    int rank = 0, mine = err.empty() ? INT_MAX : 0, first = INT_MAX;
    MPI_Comm_rank(comm_, &rank);
    if (!err.empty()) mine = rank;
    MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, comm_);
    if (first == INT_MAX) return;
    int len = static_cast<int>(err.size());
    MPI_Bcast(&len, 1, MPI_INT, first, comm_);
    err.resize(static_cast<std::size_t>(len));
    MPI_Bcast(err.data(), len, MPI_CHAR, first, comm_);
  }
  if (!err.empty()) throw RuntimeError(err);
}

void H5File::reserve_space() {
  // Raw data plus room for HDF5's metadata (object headers, attributes, B-trees).
  const std::int64_t want = created_bytes_ + (64 << 10) + created_bytes_ / 100;
  if (!g_reserve) {
    reserved_bytes_ = want;
    return;
  }
  agreed("reserving disk space", [&] {
    int rank = 0;
    if (parallel_) MPI_Comm_rank(comm_, &rank);
    if (rank != 0) return;
    const std::string name = output_name(path_);
    auto full = [&](std::int64_t free) {
      return RuntimeError(fmt::format("no space left on device writing {}: it needs {}, {} free in {}", name, mib(want),
                                      mib(free), dir_of(path_)));
    };
    int fd = ::open(path_.c_str(), O_WRONLY | O_CLOEXEC);
    int rc = fd < 0 ? errno : ::fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, want) == 0 ? 0 : errno;
    if (fd >= 0) ::close(fd);
    if (rc == 0) return;
    if (rc == ENOSPC || rc == EDQUOT) throw full(free_bytes(path_).value_or(0));
    // A file system without fallocate (some NFS, Lustre): compare with the free space instead.
    auto free = free_bytes(path_);
    if (free && *free < want - reserved_bytes_) throw full(*free);
  });
  reserved_bytes_ = want;
}

bool H5File::exists(const std::string& name) const {
  if (name == "/") return true;
  for (const auto& p : prefixes(name)) {
    htri_t e = H5Lexists(id(), p.c_str(), H5P_DEFAULT);
    // An error is damage (a link whose address is past the end of the file), not absence: a
    // split that silently disappeared would make a dataset without it.
    if (e < 0) throw InputError(path_, fmt::format("is damaged: cannot resolve {}: {}", p, hdf5_message()));
    if (e == 0) return false;
  }
  return true;
}

std::vector<std::int64_t> H5File::dims(const std::string& name) const {
  H5Id ds(SALM_CHECK_H5(H5Dopen2(id(), name.c_str(), H5P_DEFAULT)), H5Dclose);
  H5Id sp(SALM_CHECK_H5(H5Dget_space(ds.get())), H5Sclose);
  int nd = static_cast<int>(SALM_CHECK_H5(H5Sget_simple_extent_ndims(sp.get())));
  std::vector<hsize_t> d(static_cast<std::size_t>(nd));
  SALM_CHECK_H5(H5Sget_simple_extent_dims(sp.get(), d.data(), nullptr));
  return std::vector<std::int64_t>(d.begin(), d.end());
}

std::optional<std::int64_t> H5File::storage_bytes(const std::string& name) const {
  H5Id ds(SALM_CHECK_H5(H5Dopen2(id(), name.c_str(), H5P_DEFAULT)), H5Dclose);
  hsize_t n = H5Dget_storage_size(ds.get());
  H5Eclear2(H5E_DEFAULT);
  return static_cast<std::int64_t>(n);
}

H5Type H5File::type(const std::string& name) const {
  H5Id ds(SALM_CHECK_H5(H5Dopen2(id(), name.c_str(), H5P_DEFAULT)), H5Dclose);
  H5Id t(SALM_CHECK_H5(H5Dget_type(ds.get())), H5Tclose);
  H5T_class_t cls = H5Tget_class(t.get());
  std::size_t size = H5Tget_size(t.get());
  if (cls == H5T_INTEGER && size == 1 && H5Tget_sign(t.get()) == H5T_SGN_NONE) return H5Type::u8;
  if (cls == H5T_INTEGER && size == 8 && H5Tget_sign(t.get()) == H5T_SGN_2) return H5Type::i64;
  if (cls == H5T_FLOAT && size == 4) return H5Type::f32;
  if (cls == H5T_FLOAT && size == 8) return H5Type::f64;
  return H5Type::other;
}

std::string H5File::type_name(const std::string& name) const {
  H5Id ds(SALM_CHECK_H5(H5Dopen2(id(), name.c_str(), H5P_DEFAULT)), H5Dclose);
  H5Id t(SALM_CHECK_H5(H5Dget_type(ds.get())), H5Tclose);
  return describe_type(t.get());
}

void H5File::create_group(const std::string& name) {
  agreed("create group " + name, [&] {
    H5Id g(SALM_CHECK_H5(H5Gcreate2(id(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)), H5Gclose);
  });
}

void H5File::create_dataset_raw(const std::string& name, const std::vector<std::int64_t>& dims, hid_t type) {
  std::vector<hsize_t> d(dims.begin(), dims.end());
  H5Id sp(SALM_CHECK_H5(H5Screate_simple(static_cast<int>(d.size()), d.data(), nullptr)), H5Sclose);
  H5Id dcpl(SALM_CHECK_H5(H5Pcreate(H5P_DATASET_CREATE)), H5Pclose);
  // Allocate at creation so that ranks that write nothing still leave a complete dataset.
  SALM_CHECK_H5(H5Pset_alloc_time(dcpl.get(), H5D_ALLOC_TIME_EARLY));
  SALM_CHECK_H5(H5Pset_fill_time(dcpl.get(), H5D_FILL_TIME_NEVER));
  agreed("create dataset " + name, [&] {
    H5Id ds(SALM_CHECK_H5(H5Dcreate2(id(), name.c_str(), type, sp.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT)),
            H5Dclose);
  });
  std::int64_t bytes = static_cast<std::int64_t>(H5Tget_size(type));
  for (auto n : dims) bytes *= n;
  created_bytes_ += bytes;
}

std::int64_t H5File::row_elems(const std::string& name) const {
  auto d = dims(name);
  std::int64_t n = 1;
  for (std::size_t i = 1; i < d.size(); ++i) n *= d[i];
  return n;
}

namespace {
/// Selects rows [begin, begin+rows) of a dataset's file space (none when rows == 0).
void select_rows(hid_t space, std::int64_t begin, std::int64_t rows) {
  int nd = H5Sget_simple_extent_ndims(space);
  std::vector<hsize_t> d(static_cast<std::size_t>(nd));
  H5Sget_simple_extent_dims(space, d.data(), nullptr);
  if (rows == 0) {
    SALM_CHECK_H5(H5Sselect_none(space));
    return;
  }
  if (nd == 0) return;
  std::vector<hsize_t> start(d.size(), 0), count(d);
  start[0] = static_cast<hsize_t>(begin);
  count[0] = static_cast<hsize_t>(rows);
  SALM_CHECK_H5(H5Sselect_hyperslab(space, H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr));
}

/// The memory space of `rows` rows of a dataset of dimensions `d` (a scalar for 0-d datasets).
H5Id memory_space(const std::vector<std::int64_t>& d, std::int64_t rows) {
  std::vector<hsize_t> md(d.begin(), d.end());
  if (!md.empty()) md[0] = static_cast<hsize_t>(rows);
  return H5Id(SALM_CHECK_H5(md.empty() ? H5Screate(H5S_SCALAR)
                                       : H5Screate_simple(static_cast<int>(md.size()), md.data(), nullptr)),
              H5Sclose);
}
}  // namespace

void H5File::write_rows_raw(const std::string& name, std::int64_t row_begin, std::int64_t rows,
                            hid_t memtype, const void* data) {
  auto d = dims(name);
  if (!d.empty() && (row_begin < 0 || rows < 0 || row_begin + rows > d[0]))
    throw RuntimeError(fmt::format("{}: rows [{}, {}) outside {} rows of {}", path_, row_begin,
                                   row_begin + rows, d[0], name));
  if (created_bytes_ > reserved_bytes_) reserve_space();
  agreed("write " + name, [&] {
    H5Id ds(SALM_CHECK_H5(H5Dopen2(id(), name.c_str(), H5P_DEFAULT)), H5Dclose);
    H5Id fs(SALM_CHECK_H5(H5Dget_space(ds.get())), H5Sclose);
    select_rows(fs.get(), row_begin, rows);
    H5Id ms = memory_space(d, rows);
    if (rows == 0) SALM_CHECK_H5(H5Sselect_none(ms.get()));
    H5Id dxpl(SALM_CHECK_H5(H5Pcreate(H5P_DATASET_XFER)), H5Pclose);
    if (parallel_) SALM_CHECK_H5(H5Pset_dxpl_mpio(dxpl.get(), H5FD_MPIO_COLLECTIVE));
    SALM_CHECK_H5(H5Dwrite(ds.get(), memtype, ms.get(), fs.get(), dxpl.get(), rows == 0 ? nullptr : data));
  });
}

void H5File::read_rows_raw(const std::string& name, std::int64_t row_begin, std::int64_t rows,
                           hid_t memtype, void* data) const {
  H5Id ds(SALM_CHECK_H5(H5Dopen2(id(), name.c_str(), H5P_DEFAULT)), H5Dclose);
  H5Id fs(SALM_CHECK_H5(H5Dget_space(ds.get())), H5Sclose);
  auto d = dims(name);
  if (!d.empty() && (row_begin < 0 || rows < 0 || row_begin + rows > d[0]))
    throw InputError(path_, fmt::format("rows [{}, {}) outside the {} rows of {}", row_begin,
                                        row_begin + rows, d[0], name));
  if (rows == 0) return;
  select_rows(fs.get(), row_begin, rows);
  H5Id ms = memory_space(d, rows);
  if (H5Dread(ds.get(), memtype, ms.get(), fs.get(), H5P_DEFAULT, data) < 0)
    throw InputError(path_, fmt::format("cannot read {}: {}", name, hdf5_message()));
}

namespace {
H5Id open_object(hid_t file, const std::string& obj) {
  return H5Id(SALM_CHECK_H5(H5Oopen(file, obj.c_str(), H5P_DEFAULT)), H5Oclose);
}

void write_attr(hid_t file, const std::string& obj, const std::string& name, hid_t type,
                const void* value) {
  H5Id o = open_object(file, obj);
  if (H5Aexists(o.get(), name.c_str()) > 0) SALM_CHECK_H5(H5Adelete(o.get(), name.c_str()));
  H5Id sp(SALM_CHECK_H5(H5Screate(H5S_SCALAR)), H5Sclose);
  H5Id a(SALM_CHECK_H5(H5Acreate2(o.get(), name.c_str(), type, sp.get(), H5P_DEFAULT, H5P_DEFAULT)), H5Aclose);
  SALM_CHECK_H5(H5Awrite(a.get(), type, value));
}

std::optional<H5Id> open_attr(const std::string& path, hid_t file, const std::string& obj, const std::string& name) {
  if (H5Oexists_by_name(file, obj.c_str(), H5P_DEFAULT) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    return std::nullopt;
  }
  H5Id o = open_object(file, obj);
  if (H5Aexists(o.get(), name.c_str()) <= 0) return std::nullopt;
  H5Id a(SALM_CHECK_H5(H5Aopen(o.get(), name.c_str(), H5P_DEFAULT)), H5Aclose);
  // One value, never an array: reading an array into room for one value overruns it.
  H5Id sp(SALM_CHECK_H5(H5Aget_space(a.get())), H5Sclose);
  hssize_t points = H5Sget_simple_extent_npoints(sp.get());
  if (points != 1)
    throw InputError(path, fmt::format("attribute '{}' of {} holds {} values; one is expected", name, obj, points));
  return a;
}
}  // namespace

void H5File::set_attr(const std::string& obj, const std::string& name, const std::string& value) {
  agreed("write attribute " + name, [&] {
    // Fixed-length UTF-8 string: read back as a str by h5py and by HDF5 tools.
    H5Id t(SALM_CHECK_H5(H5Tcopy(H5T_C_S1)), H5Tclose);
    SALM_CHECK_H5(H5Tset_size(t.get(), std::max<std::size_t>(1, value.size())));
    SALM_CHECK_H5(H5Tset_cset(t.get(), H5T_CSET_UTF8));
    SALM_CHECK_H5(H5Tset_strpad(t.get(), H5T_STR_NULLPAD));
    std::string v = value.empty() ? std::string(1, '\0') : value;
    write_attr(id(), obj, name, t.get(), v.data());
  });
}

void H5File::set_attr(const std::string& obj, const std::string& name, std::int64_t value) {
  agreed("write attribute " + name, [&] { write_attr(id(), obj, name, H5T_NATIVE_INT64, &value); });
}

void H5File::set_attr(const std::string& obj, const std::string& name, double value) {
  agreed("write attribute " + name, [&] { write_attr(id(), obj, name, H5T_NATIVE_DOUBLE, &value); });
}

std::optional<std::string> H5File::attr_string(const std::string& obj, const std::string& name) const {
  auto a = open_attr(path_, id(), obj, name);
  if (!a) return std::nullopt;
  H5Id t(SALM_CHECK_H5(H5Aget_type(a->get())), H5Tclose);
  if (H5Tget_class(t.get()) != H5T_STRING) return std::nullopt;
  if (H5Tis_variable_str(t.get()) > 0) {
    char* p = nullptr;
    H5Id mt(SALM_CHECK_H5(H5Tcopy(H5T_C_S1)), H5Tclose);
    SALM_CHECK_H5(H5Tset_size(mt.get(), H5T_VARIABLE));
    // The file's character set (h5py writes UTF-8): HDF5 converts no string between ASCII and UTF-8.
    SALM_CHECK_H5(H5Tset_cset(mt.get(), H5Tget_cset(t.get())));
    SALM_CHECK_H5(H5Aread(a->get(), mt.get(), &p));
    std::string s = p ? p : "";
    H5free_memory(p);
    return s;
  }
  std::size_t n = H5Tget_size(t.get());
  std::string s(n, '\0');
  SALM_CHECK_H5(H5Aread(a->get(), t.get(), s.data()));
  s.resize(std::strlen(s.c_str()));
  return s;
}

std::optional<std::int64_t> H5File::attr_int(const std::string& obj, const std::string& name) const {
  auto a = open_attr(path_, id(), obj, name);
  if (!a) return std::nullopt;
  H5Id t(SALM_CHECK_H5(H5Aget_type(a->get())), H5Tclose);
  if (H5Tget_class(t.get()) != H5T_INTEGER) return std::nullopt;
  std::int64_t v = 0;
  SALM_CHECK_H5(H5Aread(a->get(), H5T_NATIVE_INT64, &v));
  return v;
}

std::optional<double> H5File::attr_double(const std::string& obj, const std::string& name) const {
  auto a = open_attr(path_, id(), obj, name);
  if (!a) return std::nullopt;
  H5Id t(SALM_CHECK_H5(H5Aget_type(a->get())), H5Tclose);
  auto cls = H5Tget_class(t.get());
  if (cls != H5T_FLOAT && cls != H5T_INTEGER) return std::nullopt;
  double v = 0;
  SALM_CHECK_H5(H5Aread(a->get(), H5T_NATIVE_DOUBLE, &v));
  return v;
}

namespace {
herr_t collect_attr_name(hid_t, const char* name, const H5A_info_t*, void* data) {
  static_cast<std::vector<std::string>*>(data)->push_back(name);
  return 0;
}
}  // namespace

std::vector<std::string> H5File::attr_names(const std::string& obj) const {
  std::vector<std::string> names;
  H5Id o = open_object(id(), obj);
  hsize_t idx = 0;
  SALM_CHECK_H5(H5Aiterate2(o.get(), H5_INDEX_NAME, H5_ITER_INC, &idx, collect_attr_name, &names));
  return names;
}

void H5File::close() {
  if (!file_) return;
  // H5Fclose is collective: every rank calls it once, then all learn whether any rank failed.
  agreed("close (final flush)", [&] { file_.close(); });
  int rank = 0;
  if (parallel_) MPI_Comm_rank(comm_, &rank);
  if (reserved_bytes_ > 0 && rank == 0) {
    // Give back the reserved blocks past the file's end (the size itself is unchanged).
    struct stat st {};
    if (::stat(path_.c_str(), &st) == 0 && ::truncate(path_.c_str(), st.st_size) != 0)
      spdlog::debug("{}: cannot release its reserved space: {}", path_, std::strerror(errno));
  }
}

void H5File::abandon() noexcept {
  if (parallel_) file_.release();
  else file_.reset();
}

}  // namespace salm::io
