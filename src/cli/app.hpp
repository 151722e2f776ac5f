// The salm binary: subcommands, dispatch, and the one place where errors become exit codes.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "options.hpp"
#include "salm/dist/communicator.hpp"

namespace salm::cli {

/// What a subcommand gets to run: its options and the job's communicator.
struct Context {
  const po::variables_map& vm;
  dist::Communicator& comm;
  std::string command_line;  ///< the whole command line, for logs and file attributes
};

struct Subcommand {
  std::string name;
  std::string summary;
  std::string usage;  ///< "salm synth --out FILE.h5 [options]"
  std::function<po::options_description()> options;  ///< the subcommand's own options
  po::positional_options_description positional;
  std::function<int(Context&)> run;
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
