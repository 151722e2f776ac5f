// core and dist helpers that need no MPI: sharding, seeding, progress text, thread choice.
#include <gtest/gtest.h>
#include <malloc.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <set>
#include <stdexcept>
#include <thread>

#include "salm/core/error.hpp"
#include "salm/core/progress.hpp"
#include "salm/core/rng.hpp"
#include "salm/core/system.hpp"
#include "salm/dist/shard.hpp"
#include "salm/dist/threads.hpp"

using namespace salm;

TEST(Shard, CoversEveryRowOnceWithBalancedSizes) {
  for (std::int64_t n : {0, 1, 2, 7, 100, 4501}) {
    for (int size : {1, 2, 3, 8}) {
      std::int64_t next = 0, lo = n, hi = 0;
      for (int r = 0; r < size; ++r) {
        auto s = dist::shard_of(n, r, size);
        EXPECT_EQ(s.begin, next) << "n=" << n << " size=" << size << " rank=" << r;
        next = s.end;
        lo = std::min(lo, s.size());
        hi = std::max(hi, s.size());
      }
      EXPECT_EQ(next, n);
      EXPECT_LE(hi - lo, 1);
    }
  }
  EXPECT_THROW(dist::shard_of(10, 2, 2), RuntimeError);
}

TEST(Rng, DerivedSeedsDependOnEveryId) {
  std::set<std::uint64_t> seen;
  for (std::uint64_t seed : {0ull, 1ull})
    for (std::uint64_t a : {0ull, 1ull, 2ull})
      for (std::uint64_t b : {0ull, 1ull}) seen.insert(derive_seed(seed, {a, b}));
  EXPECT_EQ(seen.size(), 12u);
  EXPECT_EQ(derive_seed(5, {1, 2}), derive_seed(5, {1, 2}));
  EXPECT_NE(derive_seed(5, {1, 2}), derive_seed(5, {2, 1}));
  EXPECT_NE(hash_name("train"), hash_name("test"));
}

TEST(Progress, LineHasRateAndEta) {
  auto line = Progress::format_line("noise", 250, 1000, "images", 5.0);
  EXPECT_NE(line.find("250/1000 images"), std::string::npos) << line;
  EXPECT_NE(line.find("25.0%"), std::string::npos) << line;
  EXPECT_NE(line.find("50.0 images/s"), std::string::npos) << line;
  EXPECT_NE(line.find("ETA 15.0 s"), std::string::npos) << line;
  EXPECT_NE(Progress::format_line("x", 0, 10, "steps", 0.0).find("ETA ?"), std::string::npos);
}

TEST(Progress, Durations) {
  EXPECT_EQ(format_duration(3.25), "3.2 s");
  EXPECT_EQ(format_duration(125), "2 min 05 s");
  EXPECT_EQ(format_duration(7380), "2 h 03 min");
  EXPECT_EQ(format_duration(-1), "?");
}

TEST(Threads, RequestedWinsThenEnvironmentThenAffinity) {
  unsetenv("OMP_NUM_THREADS");
  unsetenv("SLURM_CPUS_PER_TASK");
  EXPECT_EQ(dist::choose_threads(3, 2, 2, 2).threads, 3);
  // bound ranks: the mask is theirs alone
  EXPECT_EQ(dist::choose_threads(0, 1, 2, 2).threads, 1);
  // unbound ranks share the node: no oversubscription
  EXPECT_EQ(dist::choose_threads(0, 16, 16, 4).threads, 4);
  EXPECT_EQ(dist::choose_threads(0, 2, 2, 4).threads, 1);
  EXPECT_EQ(dist::choose_threads(0, 8, 8, 1).threads, 8);
  setenv("SLURM_CPUS_PER_TASK", "6", 1);
  EXPECT_EQ(dist::choose_threads(0, 16, 16, 4).threads, 6);
  setenv("OMP_NUM_THREADS", "5", 1);
  EXPECT_EQ(dist::choose_threads(0, 16, 16, 4).threads, 5);
  setenv("OMP_NUM_THREADS", "garbage", 1);
  EXPECT_EQ(dist::choose_threads(0, 16, 16, 4).threads, 6);
  unsetenv("OMP_NUM_THREADS");
  unsetenv("SLURM_CPUS_PER_TASK");
  EXPECT_GE(affinity_cpu_count(), 1);
}

TEST(Errors, ExitCodes) {
  EXPECT_EQ(InputError("a.npz", "bad").exit_code(), ExitCode::usage);
  EXPECT_STREQ(InputError("a.npz", "bad").what(), "a.npz: bad");
  EXPECT_EQ(UsageError("x").exit_code(), ExitCode::usage);
  EXPECT_EQ(RuntimeError("x").exit_code(), ExitCode::runtime);
  EXPECT_EQ(Hdf5Error("x").exit_code(), ExitCode::runtime);
  try {
    SALM_CHECK(1 + 1 == 3, "arithmetic {}", "broke");
    FAIL() << "SALM_CHECK did not throw";
  } catch (const RuntimeError& e) {
    EXPECT_NE(std::string(e.what()).find("arithmetic broke"), std::string::npos);
  }
}

TEST(System, CommandLineIsShellQuoted) {
  const char* argv[] = {"salm", "synth", "--out", "a b.h5", "it's"};
  EXPECT_EQ(join_command_line(5, argv), "salm synth --out 'a b.h5' 'it'\\''s'");
}

TEST(System, FreedMemoryStaysInTheProcessUnlessTheUserSaidOtherwise) {
  // A setting the user made through glibc's variable is theirs: that one is not made.
  ::unsetenv("MALLOC_MMAP_THRESHOLD_");
  ::setenv("MALLOC_TRIM_THRESHOLD_", "131072", 1);
  EXPECT_EQ(keep_freed_memory(), std::vector<std::string>{"mmap"});
  ::unsetenv("MALLOC_TRIM_THRESHOLD_");
  EXPECT_EQ(keep_freed_memory(), (std::vector<std::string>{"mmap", "trim"}));
  // A 30 MiB block, far over glibc's default 128 KiB mmap threshold, now comes from the heap:
  // no mapping of its own, so no fresh zeroed pages when it is freed and taken again.
  const auto mapped = mallinfo2().hblkhd;
  auto* volatile block = static_cast<char*>(std::malloc(30u << 20));
  ASSERT_NE(block, nullptr);
  block[0] = 1;
  EXPECT_EQ(mallinfo2().hblkhd, mapped);
  std::free(block);
}

TEST(System, RunInChildReportsHowADisposableChildEnded) {
  // What open_h5_dataset relies on: a crash in the child is seen, not suffered.
  EXPECT_EQ(run_in_child([] { std::raise(SIGSEGV); }, 30).signal, SIGSEGV);
  auto thrown = run_in_child([] { throw std::runtime_error("an exception is the parent's to report"); }, 30);
  EXPECT_EQ(thrown.signal, 0);
  EXPECT_FALSE(thrown.timed_out);
  auto slow = run_in_child([] { std::this_thread::sleep_for(std::chrono::seconds(30)); }, 0.3);
  EXPECT_TRUE(slow.timed_out);
  int value = 1;
  run_in_child([&] { value = 2; }, 30);
  EXPECT_EQ(value, 1) << "the child's work happens in its own copy of the process";
}
