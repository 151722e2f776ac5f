#include "test_hooks.hpp"

#include <unistd.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <thread>

#include "salm/core/system.hpp"
#include "salm/io/h5.hpp"

namespace salm::cli {

TestHooks TestHooks::from_environment() {
  TestHooks h;
  h.stop_after_steps = env_positive_int("SALM_STOP_AFTER_STEPS");
  h.pause_at_step = env_positive_int("SALM_TEST_PAUSE_AT_STEP");
  if (const char* f = std::getenv("SALM_TEST_PAUSED_FILE")) h.paused_file = f;
  h.no_reserve = env_positive_int("SALM_TEST_NO_RESERVE") > 0;
  return h;
}

void TestHooks::apply_to_io() const {
  if (no_reserve) io::set_space_reservation(false);
}

std::function<int()> TestHooks::protect_step_hook(const volatile std::sig_atomic_t& signal) const {
  if (stop_after_steps == 0 && pause_at_step == 0) return {};
  auto polls = std::make_shared<int>(0);
  return [hooks = *this, polls, &signal]() -> int {
    ++*polls;
    if (hooks.stop_after_steps > 0 && *polls >= hooks.stop_after_steps) return SIGUSR1;
    if (hooks.pause_at_step > 0 && *polls == hooks.pause_at_step) {
      if (!hooks.paused_file.empty()) std::ofstream(hooks.paused_file, std::ios::app) << ::getpid() << std::endl;
      auto t0 = std::chrono::steady_clock::now();
      // Released by a signal, or when the test removes the file (to signal only some ranks).
      while (signal == 0 && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(120) &&
             (hooks.paused_file.empty() || ::access(hooks.paused_file.c_str(), F_OK) == 0))
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return 0;
  };
}

}  // namespace salm::cli
