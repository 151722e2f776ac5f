// Writes IDX files the way MNIST / Fashion-MNIST ship them (big-endian header, unsigned bytes),
// plain or gzipped, and lets a test break them on purpose.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace salm::test {

/// The bytes of an IDX file of unsigned bytes: magic 0x0000 08 <dims>, big-endian sizes, data.
std::string idx_bytes(const std::vector<std::uint32_t>& dims, const std::string& data);

/// Writes `bytes` to `path`, gzipped when `gz`.
void write_maybe_gz(const std::string& path, const std::string& bytes, bool gz);

/// A valid Fashion-MNIST-like directory: train-*/t10k-* images (h x w, pixel (i*7+p)%256) and
/// labels i % classes, gzipped when `gz` (file names then end in .gz).
void write_idx_dataset(const std::string& dir, std::uint32_t train, std::uint32_t test, std::uint32_t classes,
                       std::uint32_t h = 8, std::uint32_t w = 8, bool gz = true);

}  // namespace salm::test
