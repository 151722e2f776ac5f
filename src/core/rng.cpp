#include "salm/core/rng.hpp"

namespace salm {

std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

std::uint64_t derive_seed(std::uint64_t seed, std::initializer_list<std::uint64_t> ids) {
  std::uint64_t h = splitmix64(seed);
  for (auto id : ids) h = splitmix64(h ^ splitmix64(id + 0x632BE59BD9B4E019ull));
  return h;
}

std::uint64_t hash_name(const char* name) {
  std::uint64_t h = 1469598103934665603ull;
  for (const char* p = name; *p; ++p) {
    h ^= static_cast<unsigned char>(*p);
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace salm
