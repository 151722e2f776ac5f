/// Logging: spdlog to stderr, line-buffered. Rank 0 logs at the chosen level; other ranks log
/// warnings and errors only, prefixed with their rank, so a job's output reads like one program's.
#pragma once

#include <string>

#include <spdlog/spdlog.h>

namespace salm::log {

/// Configures the default logger. `level` is one of trace, debug, info, warn, error, off.
/// Throws UsageError for an unknown level.
void init(int rank, int size, const std::string& level = "info");

/// The rank given to init() (0 before init).
int rank();

}  // namespace salm::log
