// The salm binary: subcommands, dispatch, and the one place where errors become exit codes.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "options.hpp"
#include "salm/core/device.hpp"
#include "salm/core/option_table.hpp"
#include "salm/dist/communicator.hpp"

namespace salm::cli {

/// The compute options of the subcommands that train models (protect, evaluate): where the
/// tensors live and how the ranks exchange them. Decided once, before the job starts.
struct ComputeOptions {
  std::string device = "auto";
  std::string comm = "auto";

  template <class Self, class V>
  static void fields(Self& o, V&& v) {
    v(opt::field("device", o.device,
                 "auto (the rank's GPU: its rank on the node modulo the visible GPUs, if any; else the CPU), cpu, cuda "
                 "or cuda:N")
          .not_result());
    v(opt::field("comm", o.comm,
                 "tensor collectives: auto (nccl for a CUDA device, mpi on the CPU), mpi (GPU tensors through host "
                 "memory), nccl (needs a CUDA device and the CUDA variant)")
          .not_result());
  }
};

/// What a subcommand gets to run: its options, the job's communicator and device.
struct Context {
  const po::variables_map& vm;
  dist::Communicator& comm;
  std::string command_line;  ///< the whole command line, for logs and file attributes
  Device device;             ///< resolved --device (the CPU for subcommands without compute options)
};

struct Subcommand {
  std::string name;
  std::string summary;
  std::string usage;  ///< "salm synth --out FILE.h5 [options]"
  std::function<po::options_description()> options;  ///< the subcommand's own options
  po::positional_options_description positional;
  std::function<int(Context&)> run;
  bool compute = false;  ///< takes --device and --comm (ComputeOptions)
};

Subcommand synth_command();
Subcommand protect_command();
Subcommand evaluate_command();
Subcommand convert_command();
Subcommand inspect_command();
Subcommand visualize_command();
Subcommand plot_command();
Subcommand export_command();
Subcommand restore_command();

/// All subcommands, in help order.
const std::vector<Subcommand>& subcommands();

/// The whole program (main delegates here). Returns the exit code.
int run_main(int argc, char** argv);

}  // namespace salm::cli
