#include "salm/data/npz.hpp"

#include <sys/stat.h>
#include <zip.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <cctype>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "salm/core/error.hpp"

namespace salm::data {

char NpyHeader::kind() const { return descr.size() >= 2 ? descr[1] : '?'; }

int NpyHeader::itemsize() const {
  if (descr.size() < 3) return 0;
  try {
    int n = std::stoi(descr.substr(2));
    return kind() == 'U' ? 4 * n : n;
  } catch (...) {
    return 0;
  }
}

std::int64_t NpyHeader::count() const {
  std::int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

std::string NpyHeader::dtype_name() const {
  int bytes = itemsize();
  switch (kind()) {
    case 'u': return fmt::format("uint{}", bytes * 8);
    case 'i': return fmt::format("int{}", bytes * 8);
    case 'f': return fmt::format("float{}", bytes * 8);
    case 'b': return "bool";
    case 'U': return "str";
    case 'O': return "object";
    default: return descr;
  }
}

std::string NpyHeader::shape_string() const {
  if (shape.size() == 1) return fmt::format("({},)", shape[0]);
  return fmt::format("({})", fmt::join(shape, ", "));
}

namespace {
/// The header dict as numpy reads it (ast.literal_eval, then checks): a Python dict literal with
/// exactly the keys 'descr' (a str), 'fortran_order' (True or False) and 'shape' (a tuple of
/// non-negative ints: "()", "(5,)", "(5, 28, 28)"), each once; nothing else but blanks and the
/// padding numpy writes after it. Anything numpy would refuse is refused here too.
class HeaderDict {
public:
  HeaderDict(const std::string& where, const std::string& text) : where_(where), s_(text) {}

  void parse(NpyHeader& h) {
    bool descr = false, fortran = false, shape = false;
    expect('{');
    while (!peek('}')) {
      std::string key = string_literal();
      expect(':');
      if (key == "descr" && !descr) {
        h.descr = string_literal();
        descr = true;
      } else if (key == "fortran_order" && !fortran) {
        h.fortran_order = boolean();
        fortran = true;
      } else if (key == "shape" && !shape) {
        h.shape = int_tuple();
        shape = true;
      } else {
        fail(fmt::format("npy header has {} key '{}'", (key == "descr" || key == "fortran_order" || key == "shape") ? "a repeated" : "an unexpected", key));
      }
      if (!peek('}')) expect(',');
    }
    expect('}');
    skip_blanks();
    if (i_ != s_.size()) fail("npy header has text after its dict");
    if (!descr) fail("npy header has no 'descr'");
    if (!fortran) fail("npy header has no 'fortran_order'");
    if (!shape) fail("npy header has no 'shape'");
  }

private:
  [[noreturn]] void fail(const std::string& what) const { throw InputError(where_, what); }
  void skip_blanks() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\t' || s_[i_] == '\r')) ++i_;
  }
  bool peek(char c) {
    skip_blanks();
    return i_ < s_.size() && s_[i_] == c;
  }
  void expect(char c) {
    if (!peek(c)) fail(fmt::format("npy header is not a valid dict (expected '{}' at byte {})", c, i_));
    ++i_;
  }
  std::string string_literal() {
    skip_blanks();
    if (i_ >= s_.size() || (s_[i_] != '\'' && s_[i_] != '"')) fail("npy header is not a valid dict (a key or descr is not a string)");
    char q = s_[i_++];
    std::string out;
    while (i_ < s_.size() && s_[i_] != q) {
      if (s_[i_] == '\\' || s_[i_] == '\n') fail("npy header has an escaped or multi-line string");
      out += s_[i_++];
    }
    if (i_ >= s_.size()) fail("npy header has an unterminated string");
    ++i_;
    return out;
  }
  bool boolean() {
    skip_blanks();
    for (const char* w : {"True", "False"}) {
      std::size_t n = std::strlen(w);
      if (s_.compare(i_, n, w) == 0) {
        i_ += n;
        return w[0] == 'T';
      }
    }
    fail("npy header has a 'fortran_order' that is not True or False");
  }
  std::vector<std::int64_t> int_tuple() {
    std::vector<std::int64_t> out;
    expect('(');
    bool comma = false;
    while (!peek(')')) {
      skip_blanks();
      std::size_t b = i_;
      while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_]))) ++i_;
      if (b == i_) fail("npy header has a 'shape' that is not a tuple of non-negative integers");
      std::string digits = s_.substr(b, i_ - b);
      if (digits.size() > 18) fail(fmt::format("npy header has a dimension too large: {}", digits));
      out.push_back(std::stoll(digits));
      comma = peek(',');
      if (comma) ++i_;
      else if (!peek(')')) fail("npy header has a 'shape' that is not a tuple of non-negative integers");
    }
    ++i_;
    if (out.size() == 1 && !comma) fail("npy header has a 'shape' that is an integer, not a tuple (numpy needs '(N,)')");
    return out;
  }

  const std::string& where_;
  const std::string& s_;
  std::size_t i_ = 0;
};

void parse_header_dict(const std::string& where, const std::string& dict, NpyHeader& h) { HeaderDict(where, dict).parse(h); }
}  // namespace

NpyHeader parse_npy_header(const std::string& where, const std::string& p) {
  static const char magic[] = "\x93NUMPY";
  if (p.size() < 10 || std::memcmp(p.data(), magic, 6) != 0)
    throw InputError(where, "not a .npy array (bad magic)");
  int major = static_cast<unsigned char>(p[6]);
  if (static_cast<unsigned char>(p[7]) != 0)  // numpy: "Invalid version (1, 5)"
    throw InputError(where, fmt::format("unsupported .npy format version {}.{}", major, static_cast<unsigned char>(p[7])));
  std::size_t len = 0, start = 0;
  if (major == 1) {
    len = static_cast<unsigned char>(p[8]) | (static_cast<unsigned char>(p[9]) << 8);
    start = 10;
  } else if (major == 2 || major == 3) {
    if (p.size() < 12) throw InputError(where, "truncated .npy header");
    len = 0;
    for (int i = 0; i < 4; ++i) len |= static_cast<std::size_t>(static_cast<unsigned char>(p[8 + i])) << (8 * i);
    start = 12;
  } else {
    throw InputError(where, fmt::format("unsupported .npy format version {}", major));
  }
  if (p.size() < start + len) throw InputError(where, "truncated .npy header");
  std::string dict = p.substr(start, len);
  NpyHeader h;
  h.data_offset = static_cast<std::int64_t>(start + len);
  parse_header_dict(where, dict, h);
  if (h.descr.size() < 2) throw InputError(where, fmt::format("npy header has a bad descr '{}'", h.descr));
  if (h.descr.size() == 2 && h.descr[0] != '|') {
    // numpy always writes a byte order and a size ("<f4"); anything else is not ours to guess.
    throw InputError(where, fmt::format("npy header has a bad descr '{}'", h.descr));
  }
  // The byte count must fit in 64 bits (a lying header must not wrap around to a small size).
  std::int64_t bytes = std::max(1, h.itemsize());
  for (auto d : h.shape)
    if (__builtin_mul_overflow(bytes, d, &bytes))
      throw InputError(where, fmt::format("npy header has an impossible shape {}", h.shape_string()));
  return h;
}

struct NpzArchive::Impl {
  zip_t* zip = nullptr;
  std::map<std::string, zip_uint64_t> index;   // key -> member index
  std::map<std::string, NpyHeader> headers;
  ~Impl() {
    if (zip) zip_discard(zip);
  }
};

namespace {
std::string zip_error_text(int code) {
  zip_error_t e;
  zip_error_init_with_code(&e, code);
  std::string s = zip_error_strerror(&e);
  zip_error_fini(&e);
  return s;
}

/// Reads exactly n bytes or reports how many arrived.
zip_int64_t read_fully(zip_file_t* f, void* buf, zip_uint64_t n) {
  zip_uint64_t got = 0;
  while (got < n) {
    zip_int64_t r = zip_fread(f, static_cast<char*>(buf) + got, n - got);
    if (r < 0) return r;
    if (r == 0) break;
    got += static_cast<zip_uint64_t>(r);
  }
  return static_cast<zip_int64_t>(got);
}

struct ZipFile {
  zip_file_t* f = nullptr;
  ~ZipFile() {
    if (f) zip_fclose(f);
  }
};
/// Reads a member whole, once: libzip checks the CRC-32 when a member is read to its end, and a
/// sharded read of a row range never gets there.
void verify_member(zip_t* zip, zip_uint64_t index, const zip_stat_t& zs, const std::string& where) {
  // Damage (a flipped byte in stored or deflated data) is an error here, before a single value is
  // used; the cost is one pass over the member's bytes.
  ZipFile f{zip_fopen_index(zip, index, 0)};
  if (!f.f) throw InputError(where, fmt::format("cannot open the zip member: {}", zip_strerror(zip)));
  std::vector<char> buf(1 << 20);
  zip_uint64_t total = 0;
  for (;;) {
    zip_int64_t r = zip_fread(f.f, buf.data(), buf.size());
    if (r < 0)
      throw InputError(where, fmt::format("damaged zip member: {} (CRC-32 or compressed data)", zip_file_strerror(f.f)));
    if (r == 0) break;
    total += static_cast<zip_uint64_t>(r);
  }
  if (total != zs.size)
    throw InputError(where, fmt::format("damaged zip member: {} bytes where the archive says {}", total,
                                        static_cast<std::uint64_t>(zs.size)));
}

}  // namespace

NpzArchive::NpzArchive(const std::string& path) : impl_(std::make_unique<Impl>()), path_(path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw InputError(path, "no such file");
  if (!S_ISREG(st.st_mode)) throw InputError(path, "is not a regular file (a FIFO, device or socket)");
  if (st.st_size == 0) throw InputError(path, "file is empty");
  int err = 0;
  impl_->zip = zip_open(path.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &err);
  if (!impl_->zip)
    throw InputError(path, fmt::format("not a valid .npz (zip) archive: {}", zip_error_text(err)));
  zip_int64_t n = zip_get_num_entries(impl_->zip, 0);
  for (zip_int64_t i = 0; i < n; ++i) {
    const char* name = zip_get_name(impl_->zip, static_cast<zip_uint64_t>(i), 0);
    if (!name) continue;
    std::string s = name;
    if (s.size() > 4 && s.compare(s.size() - 4, 4, ".npy") == 0) {
      std::string key = s.substr(0, s.size() - 4);
      keys_.push_back(key);
      impl_->index[key] = static_cast<zip_uint64_t>(i);
    }
  }
}

NpzArchive::~NpzArchive() = default;


bool NpzArchive::has(const std::string& key) const { return impl_->index.count(key) > 0; }

const NpyHeader& NpzArchive::header(const std::string& key) {
  auto cached = impl_->headers.find(key);
  if (cached != impl_->headers.end()) return cached->second;
  auto it = impl_->index.find(key);
  if (it == impl_->index.end()) throw InputError(path_, fmt::format("has no array '{}'", key));
  std::string where = fmt::format("{} [{}]", path_, key);
  zip_stat_t zs;
  zip_stat_init(&zs);
  if (zip_stat_index(impl_->zip, it->second, 0, &zs) != 0 || !(zs.valid & ZIP_STAT_SIZE))
    throw InputError(where, "cannot stat the zip member");
  verify_member(impl_->zip, it->second, zs, where);
  ZipFile f{zip_fopen_index(impl_->zip, it->second, 0)};
  if (!f.f) throw InputError(where, fmt::format("cannot open the zip member: {}", zip_strerror(impl_->zip)));
  std::string prefix(std::min<zip_uint64_t>(zs.size, 65536 + 12), '\0');
  zip_int64_t got = read_fully(f.f, prefix.data(), prefix.size());
  if (got < 0) throw InputError(where, fmt::format("cannot read the zip member: {}", zip_file_strerror(f.f)));
  prefix.resize(static_cast<std::size_t>(got));
  NpyHeader h = parse_npy_header(where, prefix);
  if (h.itemsize() > 0 && h.kind() != 'O') {
    auto expect = static_cast<zip_uint64_t>(h.data_offset + h.count() * h.itemsize());
    if (expect != zs.size)
      throw InputError(where, fmt::format(
          "npy header says shape {} of {} ({} data bytes) but the member holds {} data bytes",
          h.shape_string(), h.dtype_name(), h.count() * h.itemsize(),
          static_cast<std::int64_t>(zs.size) - h.data_offset));
  }
  return impl_->headers.emplace(key, std::move(h)).first->second;
}

std::vector<std::uint8_t> NpzArchive::read_data(const std::string& key, std::int64_t offset, std::int64_t bytes) {
  const NpyHeader& h = header(key);
  std::string where = fmt::format("{} [{}]", path_, key);
  ZipFile f{zip_fopen_index(impl_->zip, impl_->index.at(key), 0)};
  if (!f.f) throw InputError(where, fmt::format("cannot open the zip member: {}", zip_strerror(impl_->zip)));
  std::vector<std::uint8_t> out(static_cast<std::size_t>(bytes));
  auto start = static_cast<zip_uint64_t>(h.data_offset + offset);
  // Stored members seek directly; deflated ones are decompressed and the prefix discarded.
  // (A failed zip_fseek leaves the file in an error state, so the method decides, not a try.)
  zip_stat_t zs;
  zip_stat_init(&zs);
  bool stored = zip_stat_index(impl_->zip, impl_->index.at(key), 0, &zs) == 0 &&
                (zs.valid & ZIP_STAT_COMP_METHOD) && zs.comp_method == ZIP_CM_STORE;
  if (!stored || zip_fseek(f.f, static_cast<zip_int64_t>(start), SEEK_SET) != 0) {
    if (stored) throw InputError(where, fmt::format("cannot seek: {}", zip_file_strerror(f.f)));
    std::vector<char> skip(1 << 20);
    zip_uint64_t left = start;
    while (left > 0) {
      zip_uint64_t chunk = std::min<zip_uint64_t>(left, skip.size());
      zip_int64_t r = read_fully(f.f, skip.data(), chunk);
      if (r != static_cast<zip_int64_t>(chunk))
        throw InputError(where, "member ends early or is damaged (truncated or corrupt archive?)");
      left -= chunk;
    }
  }
  zip_int64_t got = bytes > 0 ? read_fully(f.f, out.data(), out.size()) : 0;
  if (got != bytes)
    throw InputError(where, got < 0 ? fmt::format("cannot read: {}", zip_file_strerror(f.f))
                                    : std::string("member ends early or is damaged (truncated or corrupt archive?)"));
  return out;
}

std::vector<std::int64_t> npy_to_int64(const NpyHeader& h, const std::uint8_t* data, std::int64_t count,
                                       const std::string& where) {
  char k = h.kind();
  int size = h.itemsize();
  if (!(k == 'i' || k == 'u' || k == 'b') || !(size == 1 || size == 2 || size == 4 || size == 8))
    throw InputError(where, fmt::format("labels have dtype {}; integer labels are required", h.dtype_name()));
  std::vector<std::int64_t> out(static_cast<std::size_t>(count));
  bool swap = h.big_endian() && size > 1;
  for (std::int64_t i = 0; i < count; ++i) {
    std::uint8_t b[8];
    std::memcpy(b, data + i * size, static_cast<std::size_t>(size));
    if (swap) std::reverse(b, b + size);
    std::int64_t v = 0;
    if (k == 'u' || k == 'b') {
      std::uint64_t u = 0;
      std::memcpy(&u, b, static_cast<std::size_t>(size));
      v = static_cast<std::int64_t>(u);
    } else {
      switch (size) {
        case 1: { std::int8_t x; std::memcpy(&x, b, 1); v = x; break; }
        case 2: { std::int16_t x; std::memcpy(&x, b, 2); v = x; break; }
        case 4: { std::int32_t x; std::memcpy(&x, b, 4); v = x; break; }
        default: { std::int64_t x; std::memcpy(&x, b, 8); v = x; break; }
      }
    }
    out[static_cast<std::size_t>(i)] = v;
  }
  return out;
}

}  // namespace salm::data

namespace salm::data {

std::string npy_header_bytes(const NpyArrayOut& a) {
  std::string shape = "(";
  for (std::size_t i = 0; i < a.shape.size(); ++i) shape += fmt::format("{}{}", i ? ", " : "", a.shape[i]);
  if (a.shape.size() == 1) shape += ",";
  shape += ")";
  std::string dict = fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}", a.descr, shape);
  // magic (6) + version (2) + length (2) + dict + padding + '\n', a multiple of 64 bytes
  std::size_t total = 10 + dict.size() + 1;
  std::size_t padded = (total + 63) / 64 * 64;
  dict.append(padded - total, ' ');
  dict += '\n';
  std::string h("\x93NUMPY\x01\x00", 8);
  h.push_back(static_cast<char>(dict.size() & 0xff));
  h.push_back(static_cast<char>((dict.size() >> 8) & 0xff));
  return h + dict;
}

void write_npz(const std::string& path, const std::vector<NpyArrayOut>& arrays, bool deflate, bool overwrite) {
  struct stat st {};
  if (!overwrite && ::stat(path.c_str(), &st) == 0)
    throw InputError(path, "exists; pass --overwrite to replace it");
  const std::string partial = path + ".partial";
  // Another run may still be writing it (as for every salm output): replaced only with overwrite.
  if (::stat(partial.c_str(), &st) == 0) {
    if (!overwrite) throw InputError(partial, "exists (another run writing it, or a crashed one); pass --overwrite");
    std::remove(partial.c_str());
  }
  int err = 0;
  zip_t* z = zip_open(partial.c_str(), ZIP_CREATE | ZIP_EXCL, &err);
  if (!z) throw RuntimeError(fmt::format("{}: cannot create (libzip error {})", partial, err));
  std::vector<std::string> members;  // header + data of each member, alive until zip_close
  members.reserve(arrays.size());
  auto fail = [&](const std::string& what) {
    zip_discard(z);
    std::remove(partial.c_str());
    throw RuntimeError(fmt::format("{}: {}", path, what));
  };
  for (const auto& a : arrays) {
    members.push_back(npy_header_bytes(a));
    members.back().append(static_cast<const char*>(a.data), a.bytes);
    zip_source_t* src = zip_source_buffer(z, members.back().data(), members.back().size(), 0);
    if (!src) fail("cannot add " + a.name);
    zip_int64_t idx = zip_file_add(z, (a.name + ".npy").c_str(), src, ZIP_FL_ENC_UTF_8);
    if (idx < 0) {
      zip_source_free(src);
      fail("cannot add " + a.name);
    }
    zip_set_file_compression(z, static_cast<zip_uint64_t>(idx), deflate ? ZIP_CM_DEFLATE : ZIP_CM_STORE, 0);
  }
  if (zip_close(z) != 0) {
    std::string msg = zip_strerror(z);
    zip_discard(z);
    std::remove(partial.c_str());
    throw RuntimeError(fmt::format("{}: cannot write: {}", path, msg));
  }
  if (std::rename(partial.c_str(), path.c_str()) != 0) {
    std::remove(partial.c_str());
    throw RuntimeError(fmt::format("{}: cannot publish {}", path, partial));
  }
}

}  // namespace salm::data
