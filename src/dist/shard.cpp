#include "salm/dist/shard.hpp"

#include "salm/core/error.hpp"

namespace salm::dist {

Shard shard_of(std::int64_t n, int rank, int size) {
  SALM_CHECK(size > 0 && rank >= 0 && rank < size && n >= 0, "bad shard request n={} rank={} size={}",
             n, rank, size);
  return Shard{n * rank / size, n * (rank + 1) / size};
}

}  // namespace salm::dist
