#include "app.hpp"
#include "test_hooks.hpp"

#include <unistd.h>

#include <iostream>
#include <sstream>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "salm/config.hpp"
#include "salm/core/error.hpp"
#include "salm/core/log.hpp"
#include "salm/core/system.hpp"
#include "salm/dist/mpi.hpp"
#include "salm/dist/nccl_communicator.hpp"
#include "salm/dist/threads.hpp"
#include "salm/models/device.hpp"
#include "option_fields.hpp"
#include "salm/io/h5.hpp"

namespace salm::cli {

const std::vector<Subcommand>& subcommands() {
  static const std::vector<Subcommand> all{synth_command(), convert_command(), protect_command(),
                                           evaluate_command(), inspect_command(), visualize_command(), plot_command(),
                                           export_command(), restore_command()};
  return all;
}

namespace {

void print_general_help(std::ostream& os) {
  os << "salm " << SALM_VERSION << " - make medical image datasets unlearnable (SALM, sparsity-aware local masking)\n\n"
     << "Usage: [mpirun -n R] salm <subcommand> [options]\n\nSubcommands:\n";
  for (const auto& s : subcommands()) os << fmt::format("  {:<10} {}\n", s.name, s.summary);
  os << "\nEvery option can also come from an INI file (--config FILE) or the environment\n"
        "(SALM_<OPTION>, e.g. SALM_SEED=3). Precedence: default < config < environment < command line.\n"
        "Exit codes: 0 success, 2 bad usage or input, 1 runtime failure, 3 stopped by a signal (protect:\n"
        "its checkpoint is written; run the same command to resume).\n"
        "Run 'salm <subcommand> --help' for the options of one subcommand.\n";
}

std::string one_line(std::string s) {
  for (auto& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  return s;
}

/// Reports an error and ends the process. One line from the failing rank; in a job of several
/// ranks MPI_Abort ends the others (they may be waiting in a collective). A rank other than 0
/// waits a moment first: when every rank failed alike, rank 0's line is the one that appears.
int fail(const std::string& msg, ExitCode code, int rank, int size) {
  if (size > 1 && rank != 0) ::usleep(500000);
  std::string line = size > 1 ? fmt::format("salm: error: [rank {}] {}\n", rank, one_line(msg))
                              : fmt::format("salm: error: {}\n", one_line(msg));
  std::cerr << line << std::flush;
  spdlog::default_logger()->flush();
  if (size > 1) dist::MpiEnvironment::abort(static_cast<int>(code));
  return static_cast<int>(code);
}

int dispatch(int argc, char** argv, dist::Communicator& comm) {
  std::vector<std::string> args(argv + 1, argv + argc);
  bool root = comm.rank() == 0;
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    if (root) print_general_help(std::cout);
    return args.empty() ? 2 : 0;
  }
  if (args[0] == "--version") {
    if (root)
      std::cout << fmt::format("salm {} ({}; {}; NCCL {}; MPI {})\n", SALM_VERSION, SALM_BUILD_TYPE,
                               models::runtime_description(), dist::nccl_built() ? dist::nccl_version() : "no",
                               dist::MpiEnvironment::active() ? "yes" : "not initialised: one process");
    return 0;
  }
  const Subcommand* sub = nullptr;
  for (const auto& s : subcommands())
    if (s.name == args[0]) sub = &s;
  if (!sub) throw UsageError(fmt::format("unknown subcommand '{}' (run 'salm --help')", args[0]));

  auto options_of = [](const Subcommand& s) {
    po::options_description o = s.options();
    if (s.compute) {
      po::options_description c("compute options");
      add_fields<ComputeOptions>(c);
      o.add(c);
    }
    return o;
  };
  po::options_description own = options_of(*sub);
  po::options_description all(fmt::format("Usage: {}\n\n{}", sub->usage, sub->summary));
  all.add(own).add(common_options());
  std::set<std::string> known, sections;
  for (const auto& s : subcommands()) {
    sections.insert(s.name);
    for (const auto& n : option_names(options_of(s))) known.insert(n);
  }
  ParseRequest req{sub->name, &all, &sub->positional, {args.begin() + 1, args.end()}, known, sections};
  auto vm = parse(req);
  if (vm.count("help")) {
    if (root) std::cout << all << "\n";
    return 0;
  }
  log::init(comm.rank(), comm.size(), vm["log-level"].as<std::string>());
  TestHooks::from_environment().apply_to_io();
  if (vm["threads"].as<int>() < 0) throw UsageError(fmt::format("--threads must be >= 0, got {}", vm["threads"].as<int>()));
  auto threads = dist::configure_threads(vm["threads"].as<int>(), comm.mpi_comm());
  // The device and the communicator, decided once: --device (the rank's GPU: node-local rank
  // modulo the visible GPUs), then --comm (auto: NCCL between GPUs, MPI on the CPU).
  Device device;
  std::unique_ptr<dist::Communicator> nccl;
  if (sub->compute) {
    ComputeOptions c;
    read_fields(vm, c);
    device = models::resolve_device(c.device, dist::node_place(comm.mpi_comm()).rank);
    if (c.comm != "auto" && c.comm != "mpi" && c.comm != "nccl")
      throw UsageError(fmt::format("--comm: unknown value '{}' (one of: auto, mpi, nccl)", c.comm));
    if (c.comm == "nccl" && !device.is_cuda())
      throw UsageError(fmt::format("--comm nccl needs a CUDA device, and --device {} is the CPU{}", c.device,
                                   models::cuda_device_count() == 0 ? " (no GPU is visible here)" : ""));
    const bool use_nccl = c.comm == "nccl" || (c.comm == "auto" && device.is_cuda() && comm.size() > 1 && dist::nccl_built());
    if (use_nccl) nccl = dist::make_nccl_communicator(comm.mpi_comm(), device);
  }
  Context ctx{vm, nccl ? *nccl : comm, join_command_line(argc, argv), device};
  spdlog::debug("{} ({} rank{}, {} thread{} each: {}; device {}, {} collectives)", ctx.command_line, comm.size(),
                comm.size() > 1 ? "s" : "", threads.threads, threads.threads > 1 ? "s" : "", threads.reason, device.str(),
                ctx.comm.backend());
  return sub->run(ctx);
}

}  // namespace

int run_main(int argc, char** argv) {
  int rank = 0, size = 1;
  try {
    dist::MpiEnvironment mpi(&argc, &argv, dist::mpi_wanted());
    rank = dist::world_rank();
    size = dist::world_size();
    log::init(rank, size, "info");
    io::quiet_hdf5_errors();
    int code = 0;
    {
      auto comm = dist::make_world_communicator();
      try {
        code = dispatch(argc, argv, *comm);
      } catch (const Error& e) {
        return fail(e.what(), e.exit_code(), rank, size);
      } catch (const std::exception& e) {
        return fail(fmt::format("unexpected failure: {}", e.what()), ExitCode::runtime, rank, size);
      }
    }
    return code;
  } catch (const std::exception& e) {
    return fail(e.what(), ExitCode::runtime, rank, size);
  }
}

}  // namespace salm::cli
