/// Typed errors of salm and the exit codes they map to.
///
/// Every failure that reaches the user is one of these. `main` catches them, prints one line
/// (`salm: error: <what>`) from the failing rank and exits with `exit_code()`:
///   0 success, 2 bad usage or bad input (the user can fix it), 1 runtime failure; 3 when a
///   job stopped on a signal with its checkpoint written (not an error: run it again to resume);
///   4 when protect's closed loop (--target-val-acc) ended with the target not met (the noise
///   file is written and records the failed check).
#pragma once

#include <stdexcept>
#include <string>

#include <fmt/format.h>

namespace salm {

/// Exit codes of the `salm` binary (documented in docs/cli.md).
enum class ExitCode : int { ok = 0, runtime = 1, usage = 2, stopped = 3, not_protected = 4 };

/// Base of all salm errors: a message and the exit code it maps to.
class Error : public std::runtime_error {
public:
  Error(const std::string& what, ExitCode code) : std::runtime_error(what), code_(code) {}
  ExitCode exit_code() const noexcept { return code_; }

private:
  ExitCode code_;
};

/// Bad command line or option value (exit 2).
class UsageError : public Error {
public:
  explicit UsageError(const std::string& what) : Error(what, ExitCode::usage) {}
};

/// A file the user gave is missing, unreadable, malformed or inconsistent (exit 2).
/// The message names the file and the problem.
class InputError : public Error {
public:
  InputError(const std::string& path, const std::string& problem)
      : Error(path + ": " + problem, ExitCode::usage), path_(path) {}
  const std::string& path() const noexcept { return path_; }

private:
  std::string path_;
};

/// Something failed at run time that is not the user's input (exit 1).
class RuntimeError : public Error {
public:
  explicit RuntimeError(const std::string& what) : Error(what, ExitCode::runtime) {}
};

/// A failed MPI call: the library's own message, the call, the rank and file:line.
class MpiError : public RuntimeError {
public:
  using RuntimeError::RuntimeError;
};

/// A failed HDF5 call: the library's innermost message, the call and file:line.
class Hdf5Error : public RuntimeError {
public:
  using RuntimeError::RuntimeError;
};

namespace detail {
[[noreturn]] void throw_check_failed(const char* expr, const char* file, int line,
                                     const std::string& msg);
}  // namespace detail

}  // namespace salm

/// Internal invariant: throws salm::RuntimeError naming the expression and file:line.
#define SALM_CHECK(cond, ...)                                                             \
  do {                                                                                    \
    if (!(cond))                                                                          \
      ::salm::detail::throw_check_failed(#cond, __FILE__, __LINE__, fmt::format(__VA_ARGS__)); \
  } while (0)
