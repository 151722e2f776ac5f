// Shared by the harnesses: the fuzz input as a file (the readers take paths), and a reader's
// whole content read the way salm reads it. The one outcome allowed besides success is a
// salm::Error (a clear, typed refusal); anything else (another exception, a crash, a sanitizer
// report, a huge allocation) is a finding.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include "salm/data/reader.hpp"

namespace salm::fuzz {

/// A per-process scratch path in $TMPDIR (default /tmp).
inline std::string scratch(const std::string& name) {
  const char* tmp = std::getenv("TMPDIR");
  return std::string(tmp && *tmp ? tmp : "/tmp") + "/salm-fuzz-" + std::to_string(::getpid()) + "-" + name;
}

inline void write_file(const std::string& path, const std::uint8_t* data, std::size_t size) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) std::abort();
  if (size && std::fwrite(data, 1, size, f) != size) std::abort();
  std::fclose(f);
}

/// Opens `path` as salm does and reads every row and label of every split.
inline void read_everything(const std::string& path) {
  auto reader = data::open_dataset(path);
  for (const auto& split : reader->splits()) {
    auto rows = reader->shape(split).rows;
    auto d = reader->read(split, 0, rows);
    auto l = reader->read_labels(split, 0, rows);
    if (static_cast<std::int64_t>(d.images.size()) != rows * reader->shape(split).image_elems()) std::abort();
    (void)l;
  }
}

}  // namespace salm::fuzz
