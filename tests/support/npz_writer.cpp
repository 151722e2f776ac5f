#include "npz_writer.hpp"

#include <zip.h>

#include <cstring>
#include <stdexcept>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace salm::test {

std::string npy_bytes(const NpyArray& a) {
  std::string shape = a.shape.size() == 1 ? fmt::format("({},)", a.shape[0]) : fmt::format("({})", fmt::join(a.shape, ", "));
  std::string dict = fmt::format("{{'descr': '{}', 'fortran_order': {}, 'shape': {}, }}", a.descr,
                                 a.fortran_order ? "True" : "False", shape);
  std::size_t total = 10 + dict.size() + 1;
  std::size_t pad = (64 - total % 64) % 64;
  dict += std::string(pad, ' ') + "\n";
  std::string out("\x93NUMPY\x01\x00", 8);
  out += static_cast<char>(dict.size() & 0xff);
  out += static_cast<char>((dict.size() >> 8) & 0xff);
  out += dict;
  out += a.data;
  return out;
}

NpyArray u8_images(std::int64_t n, std::int64_t h, std::int64_t w, std::int64_t c) {
  NpyArray a;
  a.descr = "|u1";
  a.shape = c == 0 ? std::vector<std::int64_t>{n, h, w} : std::vector<std::int64_t>{n, h, w, c};
  std::int64_t per = h * w * (c == 0 ? 1 : c);
  a.data.resize(static_cast<std::size_t>(n * per));
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t p = 0; p < per; ++p) a.data[static_cast<std::size_t>(i * per + p)] = static_cast<char>((i * 7 + p) % 256);
  return a;
}

NpyArray i64_labels(const std::vector<std::int64_t>& values, std::int64_t cols) {
  NpyArray a;
  a.descr = "<i8";
  std::int64_t n = cols == 0 ? static_cast<std::int64_t>(values.size()) : static_cast<std::int64_t>(values.size()) / cols;
  a.shape = cols == 0 ? std::vector<std::int64_t>{n} : std::vector<std::int64_t>{n, cols};
  a.data.resize(values.size() * 8);
  std::memcpy(a.data.data(), values.data(), a.data.size());
  return a;
}

void write_npz(const std::string& path, const NpzMembers& members, bool deflate) {
  int err = 0;
  zip_t* z = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err);
  if (!z) throw std::runtime_error("zip_open failed for " + path);
  std::vector<std::string> blobs;
  blobs.reserve(members.size());
  for (const auto& [name, arr] : members) {
    blobs.push_back(npy_bytes(arr));
    zip_source_t* src = zip_source_buffer(z, blobs.back().data(), blobs.back().size(), 0);
    zip_int64_t idx = zip_file_add(z, (name + ".npy").c_str(), src, ZIP_FL_OVERWRITE);
    if (idx < 0) throw std::runtime_error("zip_file_add failed");
    zip_set_file_compression(z, static_cast<zip_uint64_t>(idx), deflate ? ZIP_CM_DEFLATE : ZIP_CM_STORE, 0);
  }
  if (zip_close(z) != 0) throw std::runtime_error("zip_close failed for " + path);
}

NpzMembers medmnist_members(std::int64_t train, std::int64_t val, std::int64_t test, std::int64_t classes,
                            std::int64_t h, std::int64_t w, std::int64_t c) {
  auto labels = [&](std::int64_t n) {
    std::vector<std::int64_t> v(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = i % classes;
    return i64_labels(v, 1);
  };
  return {{"train_images", u8_images(train, h, w, c)}, {"train_labels", labels(train)},
          {"val_images", u8_images(val, h, w, c)},     {"val_labels", labels(val)},
          {"test_images", u8_images(test, h, w, c)},   {"test_labels", labels(test)}};
}

}  // namespace salm::test
