// Testing aids, read once from the environment by the CLI and handed to the jobs as hooks; the
// libraries never read them (docs/testing.md):
//   SALM_STOP_AFTER_STEPS=N    protect acts as if SIGUSR1 arrived at its N-th step boundary, so a
//                              test can stop a run at an exact point and check the resume;
//   SALM_TEST_PAUSE_AT_STEP=N  protect waits at its N-th step boundary until a real signal
//                              arrives (at most 120 s) or the file named by SALM_TEST_PAUSED_FILE,
//                              to which it appended its pid, is removed: a test signals the ranks
//                              (or some of them, then removes the file) at a known point.
//   SALM_TEST_NO_RESERVE=1     HDF5 writers skip their disk-space reservation, so that a full
//                              disk is met half-way through a write (the agreed-error path).
#pragma once

#include <csignal>
#include <functional>
#include <string>

namespace salm::cli {

struct TestHooks {
  int stop_after_steps = 0;
  int pause_at_step = 0;
  std::string paused_file;
  bool no_reserve = false;

  static TestHooks from_environment();
  /// Applies the process-wide aids (SALM_TEST_NO_RESERVE) to the libraries.
  void apply_to_io() const;

  /// The step hook of a protect run (app::ProtectRequest::step_hook); `signal` is the flag the
  /// signal handler sets. Empty when no aid is asked for.
  std::function<int()> protect_step_hook(const volatile std::sig_atomic_t& signal) const;
};

}  // namespace salm::cli
