/// Deterministic seeding: every random stream in salm is derived from the user's `--seed` and
/// the identity of what it randomises (split, row, purpose), never from the rank or the order
/// of work, so that results do not depend on how rows are distributed over ranks.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <random>

namespace salm {

/// splitmix64: a fast, well-mixed 64-bit hash step.
std::uint64_t splitmix64(std::uint64_t x);

/// Combines a seed with any number of stream identifiers into one 64-bit seed.
std::uint64_t derive_seed(std::uint64_t seed, std::initializer_list<std::uint64_t> ids);

/// A 64-bit stable hash of a string (FNV-1a), for naming streams ("train", "val").
std::uint64_t hash_name(const char* name);

/// The engine used everywhere: mt19937_64 seeded through derive_seed.
using Rng = std::mt19937_64;

}  // namespace salm
