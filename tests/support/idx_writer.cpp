#include "idx_writer.hpp"

#include <zlib.h>

#include <fstream>
#include <stdexcept>

namespace salm::test {

std::string idx_bytes(const std::vector<std::uint32_t>& dims, const std::string& data) {
  std::string s{'\0', '\0', '\x08', static_cast<char>(dims.size())};
  for (auto d : dims)
    for (int shift = 24; shift >= 0; shift -= 8) s.push_back(static_cast<char>((d >> shift) & 0xff));
  return s + data;
}

void write_maybe_gz(const std::string& path, const std::string& bytes, bool gz) {
  if (!gz) {
    std::ofstream(path, std::ios::binary) << bytes;
    return;
  }
  gzFile f = gzopen(path.c_str(), "wb");
  if (!f) throw std::runtime_error("cannot write " + path);
  if (!bytes.empty() && gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())) != static_cast<int>(bytes.size()))
    throw std::runtime_error("cannot write " + path);
  gzclose(f);
}

void write_idx_dataset(const std::string& dir, std::uint32_t train, std::uint32_t test, std::uint32_t classes,
                       std::uint32_t h, std::uint32_t w, bool gz) {
  for (auto [prefix, n] : {std::pair<const char*, std::uint32_t>{"train", train}, {"t10k", test}}) {
    std::string images, labels;
    for (std::uint32_t i = 0; i < n; ++i) {
      for (std::uint32_t p = 0; p < h * w; ++p) images.push_back(static_cast<char>((i * 7 + p) % 256));
      labels.push_back(static_cast<char>(i % classes));
    }
    std::string suffix = gz ? ".gz" : "";
    write_maybe_gz(dir + "/" + prefix + "-images-idx3-ubyte" + suffix, idx_bytes({n, h, w}, images), gz);
    write_maybe_gz(dir + "/" + prefix + "-labels-idx1-ubyte" + suffix, idx_bytes({n}, labels), gz);
  }
}

}  // namespace salm::test
