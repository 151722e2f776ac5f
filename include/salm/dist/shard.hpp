/// Sharding of a split's rows over ranks: rank r of R owns the contiguous rows
/// [r*N/R, (r+1)*N/R) (DESIGN.md section 6).
#pragma once

#include <cstdint>

namespace salm::dist {

struct Shard {
  std::int64_t begin = 0;  ///< first row owned (inclusive)
  std::int64_t end = 0;    ///< one past the last row owned
  std::int64_t size() const { return end - begin; }
  bool operator==(const Shard& o) const { return begin == o.begin && end == o.end; }
};

/// The rows of `n` that `rank` of `size` owns. Sizes differ by at most one; a rank may own none.
Shard shard_of(std::int64_t n, int rank, int size);

}  // namespace salm::dist
