// salm protect: parses the options and runs app::protect; SIGTERM and SIGUSR1 ask for a
// checkpoint at the next step boundary and exit code 3.
#include <csignal>

#include <iostream>

#include "app.hpp"
#include "option_fields.hpp"
#include "salm/app/estimate.hpp"
#include "salm/app/protect.hpp"
#include "salm/core/error.hpp"
#include "salm/io/publish.hpp"
#include "test_hooks.hpp"

namespace salm::cli {
namespace {

volatile std::sig_atomic_t g_stop_signal = 0;
extern "C" void on_stop_signal(int sig) { g_stop_signal = sig; }

/// SIGTERM and SIGUSR1 (a preemption, or Slurm's warning before the time limit) set the flag
/// that the job polls at its step boundaries; the previous handlers come back on destruction.
struct StopSignals {
  struct sigaction old_term {}, old_usr1 {};
  StopSignals() {
    g_stop_signal = 0;
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, &old_term);
    sigaction(SIGUSR1, &sa, &old_usr1);
  }
  ~StopSignals() {
    sigaction(SIGTERM, &old_term, nullptr);
    sigaction(SIGUSR1, &old_usr1, nullptr);
  }
};

}  // namespace

Subcommand protect_command() {
  Subcommand s;
  s.name = "protect";
  s.summary = "generate SALM (or EM, TAP, SP, random) protective noise for a split; writes the noise file";
  s.usage = "[mpirun -n R] salm protect --data DATA --out NOISE.h5 [options]";
  s.options = [] {
    po::options_description o("protect options");
    add_fields<app::ProtectFiles>(o);
    add_fields<ProtectOptions>(o);
    add_fields<data::OpenOptions>(o);
    return o;
  };
  s.compute = true;
  s.run = [](Context& ctx) {
    // From the start: a signal during the set-up (reading the data, the SHA-256, loading a
    // checkpoint) must also end in exit code 3, so that a batch job requeues.
    StopSignals signals;
    app::ProtectRequest req;
    read_fields(ctx.vm, req.files);
    read_fields(ctx.vm, req.options);
    read_fields(ctx.vm, req.open);
    req.command_line = ctx.command_line;
    req.device = ctx.device;
    req.stop_signal = [] { return static_cast<int>(g_stop_signal); };
    req.step_hook = TestHooks::from_environment().protect_step_hook(g_stop_signal);
    if (req.files.estimate) {
      if (!req.files.report.empty()) io::check_output_path(req.files.report, req.files.overwrite, ctx.comm);
      auto e = app::estimate_protect(req, ctx.comm);
      if (ctx.comm.rank() == 0) {
        std::cout << app::estimate_text(e) << std::flush;
        if (!req.files.report.empty()) io::publish_text(req.files.report, app::estimate_json(e));
      }
      return static_cast<int>(ExitCode::ok);
    }
    auto r = app::protect(req, ctx.comm);
    switch (r.status) {
      case app::ProtectStatus::stopped: return static_cast<int>(ExitCode::stopped);
      case app::ProtectStatus::not_protected: return static_cast<int>(ExitCode::not_protected);
      case app::ProtectStatus::completed: break;
    }
    return static_cast<int>(ExitCode::ok);
  };
  return s;
}

}  // namespace salm::cli
