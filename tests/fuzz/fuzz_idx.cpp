// libFuzzer harness: bytes as an IDX directory (MNIST layout). The input is four files: four
// little-endian u16 lengths, then train-images, train-labels, t10k-images, t10k-labels (the
// last takes the rest); each may be plain or gzipped (the reader looks at the magic).
#include <sys/stat.h>

#include <array>

#include "fuzz_common.hpp"

#include "salm/core/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string dir = [] {
    std::string d = salm::fuzz::scratch("idx");
    ::mkdir(d.c_str(), 0700);
    return d;
  }();
  static const std::array<const char*, 4> names{"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                                "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};
  if (size < 8) return 0;
  std::size_t at = 8;
  for (std::size_t i = 0; i < names.size(); ++i) {
    std::size_t len = i + 1 < names.size() ? (data[2 * i] | (data[2 * i + 1] << 8)) : size - at;
    if (len > size - at) len = size - at;
    salm::fuzz::write_file(dir + "/" + names[i], data + at, len);
    at += len;
  }
  try {
    salm::fuzz::read_everything(dir);
  } catch (const salm::Error&) {
  }
  return 0;
}
