/// Small facts about the process and the machine, without MPI or Torch.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace salm {

/// Number of CPUs in this process's affinity mask (what the scheduler or mpirun gave us),
/// at least 1.
int affinity_cpu_count();

/// A positive integer from the environment variable `name`, or 0 when unset or invalid.
int env_positive_int(const char* name);

/// Current local time as ISO 8601 ("2026-11-23T07:01:02+0000").
std::string iso_time_now();

/// The command line as one shell-quoted string (for logs and file attributes).
std::string join_command_line(int argc, const char* const* argv);

/// How a disposable child process ended (run_in_child).
struct ChildOutcome {
  int signal = 0;         ///< the signal that killed it (0: it exited)
  bool timed_out = false; ///< still running after the timeout, then killed
};

/// Runs `work` in a forked child that only does `work` and ends with _exit (its exceptions are
/// swallowed: the caller repeats the work in-process to get them), waits at most `timeout_s`.
/// Used to let a library that crashes on hostile input (HDF5 1.10.8 on damaged metadata) crash
/// somewhere harmless first. Returns how it ended.
ChildOutcome run_in_child(const std::function<void()>& work, double timeout_s);

/// Keeps freed memory in the process instead of handing it back to the OS at once. glibc's
/// malloc returns large freed blocks (mmap) and the heap's free top (trim) to the kernel, so a
/// training or PGD step, which frees and re-allocates the same activation-sized tensors, faults
/// in fresh zeroed pages every time: 13% of a ResNet-18 EM run's CPU samples were page faults.
/// Sets M_MMAP_THRESHOLD to 32 MiB (glibc's maximum) and M_TRIM_THRESHOLD to 1 GiB, each unless
/// the user set it (MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_). Returns the settings it made
/// ("mmap", "trim"). The peak memory is unchanged; up to 1 GiB freed stays mapped.
std::vector<std::string> keep_freed_memory();

}  // namespace salm
