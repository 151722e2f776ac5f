#include "salm/data/idx.hpp"

#include <sys/stat.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>

#include <fmt/format.h>

#include "salm/core/error.hpp"

namespace salm::data {
namespace {

/// The path of `stem` in `dir`: plain first, else gzipped; "" when neither exists.
std::string find_member(const std::string& dir, const std::string& stem) {
  for (const char* suffix : {"", ".gz"}) {
    std::string p = dir + "/" + stem + suffix;
    struct stat st {};
    if (::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode)) return p;
  }
  return "";
}

/// Larger than any IDX salm reads; guards against a small .gz that inflates without end.
constexpr std::uint64_t kMaxIdxBytes = std::uint64_t{1} << 36;  // 64 GiB

/// The whole file's bytes; a gzip file (magic 1f 8b) is inflated and verified on the way: every
/// member's CRC-32 and length, nothing truncated, nothing but further gzip members after the
/// first (zlib's gzread would silently ignore trailing garbage and a missing trailer).
std::vector<std::uint8_t> read_verified(const std::string& path) {
  std::vector<std::uint8_t> raw;
  {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) throw InputError(path, fmt::format("cannot be opened: {}", std::strerror(errno)));
    std::array<std::uint8_t, 1 << 16> buf{};
    std::size_t got = 0;
    while ((got = std::fread(buf.data(), 1, buf.size(), f)) > 0) raw.insert(raw.end(), buf.begin(), buf.begin() + got);
    bool bad = std::ferror(f) != 0;
    std::fclose(f);
    if (bad) throw InputError(path, "cannot be read");
  }
  if (raw.size() < 2 || raw[0] != 0x1f || raw[1] != 0x8b) return raw;
  z_stream zs{};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) throw RuntimeError("zlib: inflateInit2 failed");
  std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&zs, inflateEnd);
  std::vector<std::uint8_t> out;
  zs.next_in = raw.data();
  auto feed = [&] {  // inflate takes at most 4 GiB of input at a time
    std::size_t used = static_cast<std::size_t>(zs.next_in - raw.data());
    zs.avail_in = static_cast<uInt>(std::min<std::size_t>(raw.size() - used, std::numeric_limits<uInt>::max()));
  };
  feed();
  for (;;) {
    const std::size_t chunk = std::size_t{1} << 20;
    out.resize(out.size() + chunk);
    zs.next_out = out.data() + out.size() - chunk;
    zs.avail_out = static_cast<uInt>(chunk);
    int rc = inflate(&zs, Z_NO_FLUSH);
    out.resize(out.size() - zs.avail_out);
    const std::size_t used = static_cast<std::size_t>(zs.next_in - raw.data());
    if (out.size() > kMaxIdxBytes) throw InputError(path, "inflates to more than 64 GiB");
    if (rc == Z_STREAM_END) {
      if (used == raw.size()) break;
      if (raw.size() - used >= 2 && raw[used] == 0x1f && raw[used + 1] == 0x8b) {  // a further member
        inflateReset(&zs);
        feed();
        continue;
      }
      throw InputError(path, fmt::format("has {} bytes of trailing garbage after its gzip stream", raw.size() - used));
    }
    if (rc == Z_DATA_ERROR || rc == Z_NEED_DICT)
      throw InputError(path, fmt::format("is damaged: {}", zs.msg ? zs.msg : "bad gzip data"));
    if (rc == Z_MEM_ERROR) throw RuntimeError(path + ": out of memory inflating it");
    if (zs.avail_in == 0) {
      if (used == raw.size()) {
        if (rc == Z_BUF_ERROR || zs.avail_out != 0) throw InputError(path, "is truncated: its gzip stream ends early");
      } else {
        feed();
      }
    }
  }
  return out;
}

struct IdxArray {
  std::vector<std::int64_t> dims;
  std::vector<std::uint8_t> data;
};

/// One IDX file of unsigned bytes with `want_dims` dimensions; its size must be exactly what its
/// header says (checked against the bytes present, before anything is allocated for them).
IdxArray read_idx(const std::string& path, std::size_t want_dims) {
  std::vector<std::uint8_t> bytes = read_verified(path);
  const std::size_t header = 4 + 4 * want_dims;
  if (bytes.size() < 4) throw InputError(path, "is truncated: shorter than an IDX header");
  if (bytes[0] != 0 || bytes[1] != 0) throw InputError(path, "is not an IDX file (bad magic number)");
  if (bytes[2] != 0x08)
    throw InputError(path, fmt::format("has IDX element type 0x{:02x}; unsigned bytes (0x08) are required", bytes[2]));
  if (bytes[3] != want_dims) throw InputError(path, fmt::format("has {} dimensions; {} expected", int(bytes[3]), want_dims));
  if (bytes.size() < header) throw InputError(path, "is truncated: shorter than an IDX header");
  IdxArray a;
  std::uint64_t total = 1;
  for (std::size_t d = 0; d < want_dims; ++d) {
    const std::uint8_t* b = bytes.data() + 4 + 4 * d;
    std::uint64_t v = (std::uint64_t{b[0]} << 24) | (std::uint64_t{b[1]} << 16) | (std::uint64_t{b[2]} << 8) | b[3];
    if (d > 0 && v == 0) throw InputError(path, "has an empty dimension");
    total *= std::max<std::uint64_t>(v, 1);
    if (total > kMaxIdxBytes) throw InputError(path, "has a header promising more than 64 GiB");
    a.dims.push_back(static_cast<std::int64_t>(v));
  }
  if (a.dims[0] == 0) total = 0;
  const std::uint64_t present = bytes.size() - header;
  if (present < total)
    throw InputError(path, fmt::format("is truncated: its header promises {} bytes of data, it holds {}", total, present));
  if (present > total) throw InputError(path, "has bytes after the data its header describes");
  bytes.erase(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(header));
  a.data = std::move(bytes);
  return a;
}

class IdxDatasetReader final : public DatasetReader {
public:
  IdxDatasetReader(const std::string& dir, const OpenOptions& opt) : DatasetReader(dir) {
    struct Files { const char* split; const char* prefix; };
    std::int64_t max_label = -1;
    for (const Files& f : {Files{"train", "train"}, Files{"test", "t10k"}}) {
      std::string ip = find_member(dir, std::string(f.prefix) + "-images-idx3-ubyte");
      std::string lp = find_member(dir, std::string(f.prefix) + "-labels-idx1-ubyte");
      if (ip.empty()) throw InputError(dir, fmt::format("has no {}-images-idx3-ubyte[.gz]", f.prefix));
      if (lp.empty()) throw InputError(dir, fmt::format("has no {}-labels-idx1-ubyte[.gz]", f.prefix));
      IdxArray images = read_idx(ip, 3), labels = read_idx(lp, 1);
      if (labels.dims[0] != images.dims[0])
        throw InputError(lp, fmt::format("{} labels for {} images in {}", labels.dims[0], images.dims[0], ip));
      SplitShape s{images.dims[0], images.dims[1], images.dims[2], 1, 0};
      if (!splits().empty() && !s.same_image_shape(shape("train")))
        throw InputError(ip, fmt::format("images are {}x{}, the train images {}x{}", s.height, s.width,
                                         shape("train").height, shape("train").width));
      if (images.dims[0] == 0) throw InputError(ip, fmt::format("the {} split has no rows", f.split));
      std::vector<std::int64_t> lab(labels.data.begin(), labels.data.end());
      // The classes are train's: a test label train never has is an error unless --num-classes says so.
      if (std::string(f.split) == "train")
        for (auto l : lab) max_label = std::max(max_label, l);
      add_split(f.split, s);
      images_.push_back(std::move(images.data));
      labels_.push_back(std::move(lab));
      label_files_.push_back(lp);
    }
    info_.name = opt.name.empty() ? base_name(dir) : opt.name;
    info_.source = dir;
    info_.num_classes = opt.num_classes.value_or(max_label + 1);
    info_.task = opt.task.value_or(info_.num_classes == 2 ? Task::binary_class : Task::multi_class);
    if (info_.task == Task::multi_label) throw InputError(dir, "IDX labels are single labels; --task multi-label does not apply");
    if (info_.num_classes < 1) throw InputError(dir, "labels are empty: cannot infer the number of classes");
    for (std::size_t i = 0; i < labels_.size(); ++i) {
      std::string p = check_labels(labels_[i], 0, info_.task, info_.num_classes, "labels");
      if (!p.empty() && i > 0 && !opt.num_classes) p += ": a class that never occurs in the train labels (pass --num-classes if it is real)";
      if (!p.empty()) throw InputError(label_files_[i], p);
    }
  }

  SplitData read(const std::string& split, std::int64_t begin, std::int64_t count) override {
    SplitData d = blank_rows(split, begin, count);
    const auto& all = images_[index(split)];
    std::int64_t row = d.shape.image_elems();
    d.images.assign(all.begin() + begin * row, all.begin() + (begin + count) * row);
    d.labels = read_labels(split, begin, count);
    return d;
  }

  std::vector<std::int64_t> read_labels(const std::string& split, std::int64_t begin, std::int64_t count) override {
    check_range(split, begin, count);
    const auto& all = labels_[index(split)];
    return {all.begin() + begin, all.begin() + begin + count};
  }

private:
  static std::string base_name(std::string dir) {
    while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
    auto slash = dir.find_last_of('/');
    return slash == std::string::npos ? dir : dir.substr(slash + 1);
  }
  std::size_t index(const std::string& split) const {
    return static_cast<std::size_t>(std::find(splits().begin(), splits().end(), split) - splits().begin());
  }

  std::vector<std::vector<std::uint8_t>> images_;
  std::vector<std::vector<std::int64_t>> labels_;
  std::vector<std::string> label_files_;
};

}  // namespace

bool is_idx_directory(const std::string& dir) { return !find_member(dir, "train-images-idx3-ubyte").empty(); }

std::unique_ptr<DatasetReader> open_idx_directory(const std::string& dir, const OpenOptions& options) {
  return std::make_unique<IdxDatasetReader>(dir, options);
}

}  // namespace salm::data
