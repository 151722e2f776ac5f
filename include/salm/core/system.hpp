/// Small facts about the process and the machine, without MPI or Torch.
#pragma once

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

}  // namespace salm
