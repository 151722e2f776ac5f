/// Small facts about the process and the machine, without MPI or Torch.
#pragma once

#include <functional>
#include <string>

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

}  // namespace salm
