// Writes .npz archives the way numpy does (npy format 1.0 members, stored or deflated), and lets
// a test break them on purpose (a header that lies, a wrong dtype, a truncated archive).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace salm::test {

struct NpyArray {
  std::string descr;                ///< "|u1", "<i8", "<f4", ...
  std::vector<std::int64_t> shape;
  std::string data;                 ///< raw little-endian element bytes
  bool fortran_order = false;
};

/// The bytes of a .npy file: magic, version 1.0, padded header dict, data.
std::string npy_bytes(const NpyArray& a);

/// uint8 images [n,h,w] (c == 0) or [n,h,w,c], pixel = (i*7 + p) % 256.
NpyArray u8_images(std::int64_t n, std::int64_t h, std::int64_t w, std::int64_t c = 0);
/// int64 labels [n, cols] (cols == 0: [n]).
NpyArray i64_labels(const std::vector<std::int64_t>& values, std::int64_t cols = 1);

using NpzMembers = std::vector<std::pair<std::string, NpyArray>>;

/// Writes `members` ("train_images" -> train_images.npy) into a zip archive at `path`.
void write_npz(const std::string& path, const NpzMembers& members, bool deflate);

/// A small valid MedMNIST-like member set: train/val/test with `classes` classes.
NpzMembers medmnist_members(std::int64_t train = 20, std::int64_t val = 6, std::int64_t test = 10,
                            std::int64_t classes = 4, std::int64_t h = 8, std::int64_t w = 8, std::int64_t c = 0);

}  // namespace salm::test
