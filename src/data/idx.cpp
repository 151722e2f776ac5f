#include "salm/data/idx.hpp"

#include <sys/stat.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <limits>

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

/// Reads exactly `n` bytes (decompressing when gzipped) or throws naming the file.
class GzFile {
public:
  explicit GzFile(const std::string& path) : path_(path), f_(gzopen(path.c_str(), "rb")) {
    if (!f_) throw InputError(path, "cannot be opened");
  }
  ~GzFile() { gzclose(f_); }
  GzFile(const GzFile&) = delete;
  GzFile& operator=(const GzFile&) = delete;

  void read(void* out, std::size_t n) {
    auto* p = static_cast<unsigned char*>(out);
    while (n > 0) {
      unsigned chunk = static_cast<unsigned>(std::min<std::size_t>(n, 1u << 30));
      int got = gzread(f_, p, chunk);
      if (got < 0) {
        int code = 0;
        const char* msg = gzerror(f_, &code);
        throw InputError(path_, fmt::format("is damaged: {}", msg ? msg : "gzip error"));
      }
      if (got == 0) throw InputError(path_, "is truncated: fewer bytes than its header promises");
      p += got;
      n -= static_cast<std::size_t>(got);
    }
  }
  bool at_end() {
    unsigned char c;
    int got = gzread(f_, &c, 1);
    if (got < 0) {
      int code = 0;
      const char* msg = gzerror(f_, &code);
      throw InputError(path_, fmt::format("is damaged: {}", msg ? msg : "gzip error"));
    }
    return got == 0;
  }

private:
  std::string path_;
  gzFile f_;
};

struct IdxArray {
  std::vector<std::int64_t> dims;
  std::vector<std::uint8_t> data;
};

/// One IDX file of unsigned bytes with `want_dims` dimensions.
IdxArray read_idx(const std::string& path, std::size_t want_dims) {
  GzFile f(path);
  std::array<unsigned char, 4> magic{};
  f.read(magic.data(), 4);
  if (magic[0] != 0 || magic[1] != 0) throw InputError(path, "is not an IDX file (bad magic number)");
  if (magic[2] != 0x08)
    throw InputError(path, fmt::format("has IDX element type 0x{:02x}; unsigned bytes (0x08) are required", magic[2]));
  if (magic[3] != want_dims)
    throw InputError(path, fmt::format("has {} dimensions; {} expected", int(magic[3]), want_dims));
  IdxArray a;
  std::uint64_t total = 1;
  for (std::size_t d = 0; d < want_dims; ++d) {
    std::array<unsigned char, 4> b{};
    f.read(b.data(), 4);
    std::uint64_t v = (std::uint64_t{b[0]} << 24) | (std::uint64_t{b[1]} << 16) | (std::uint64_t{b[2]} << 8) | b[3];
    if (d > 0 && v == 0) throw InputError(path, "has an empty dimension");
    total *= std::max<std::uint64_t>(v, 1);
    if (total > (std::uint64_t{1} << 36)) throw InputError(path, "has a header promising more than 64 GiB");
    a.dims.push_back(static_cast<std::int64_t>(v));
  }
  if (a.dims[0] == 0) total = 0;
  a.data.resize(total);
  f.read(a.data.data(), a.data.size());
  if (!f.at_end()) throw InputError(path, "has bytes after the data its header describes");
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
      std::vector<std::int64_t> lab(labels.data.begin(), labels.data.end());
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
