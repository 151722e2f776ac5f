#include "app.hpp"

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
    if (root) std::cout << "salm " << SALM_VERSION << " (" << SALM_BUILD_TYPE << ", NCCL " << (SALM_HAS_NCCL ? "yes" : "no") << ")\n";
    return 0;
  }
  const Subcommand* sub = nullptr;
  for (const auto& s : subcommands())
    if (s.name == args[0]) sub = &s;
  if (!sub) throw UsageError(fmt::format("unknown subcommand '{}' (run 'salm --help')", args[0]));

  po::options_description own = sub->options();
  po::options_description all(fmt::format("Usage: {}\n\n{}", sub->usage, sub->summary));
  all.add(own).add(common_options());
  std::set<std::string> known;
  for (const auto& s : subcommands())
    for (const auto& n : option_names(s.options())) known.insert(n);
  ParseRequest req{sub->name, &all, &sub->positional, {args.begin() + 1, args.end()}, known};
  auto vm = parse(req);
  if (vm.count("help")) {
    if (root) std::cout << all << "\n";
    return 0;
  }
  log::init(comm.rank(), comm.size(), vm["log-level"].as<std::string>());
  auto threads = dist::configure_threads(vm["threads"].as<int>(), comm.mpi_comm());
  // --comm nccl: tensor collectives through NCCL on each rank's GPU (MPI stays for the rest).
  const auto backend = vm["comm"].as<std::string>();
  if (backend != "auto" && backend != "mpi" && backend != "nccl")
    throw UsageError(fmt::format("--comm: '{}' (auto, mpi, nccl)", backend));
  std::unique_ptr<dist::Communicator> nccl;
  if (backend == "nccl" && (comm.mpi_comm() != MPI_COMM_NULL || !dist::nccl_built()))
    nccl = dist::make_nccl_communicator(comm.mpi_comm());  // throws when salm has no NCCL or no GPU is visible
  Context ctx{vm, nccl ? *nccl : comm, join_command_line(argc, argv)};
  spdlog::debug("{} ({} rank{}, {} thread{} each: {})", ctx.command_line, comm.size(), comm.size() > 1 ? "s" : "",
                threads.threads, threads.threads > 1 ? "s" : "", threads.reason);
  return sub->run(ctx);
}

}  // namespace

int run_main(int argc, char** argv) {
  int rank = 0, size = 1;
  try {
    dist::MpiEnvironment mpi(&argc, &argv);
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
