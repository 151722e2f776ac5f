// Option handling shared by the subcommands: one Boost.Program_options description per
// subcommand, readable from the command line, SALM_* environment variables and INI files.
// Precedence: built-in default < --config FILE < environment < command line.
#pragma once

#include <set>
#include <string>
#include <vector>

#include <boost/program_options.hpp>

namespace salm::cli {

namespace po = boost::program_options;

/// Options every subcommand has: --help, --config, --log-level, --threads.
po::options_description common_options();

/// "SALM_NUM_CLASSES" -> "num-classes"; the environment name of an option.
std::string env_name(const std::string& option);

struct ParseRequest {
  std::string subcommand;                    ///< "synth": also the INI section read besides the top level
  const po::options_description* options;    ///< the subcommand's full description (incl. common)
  const po::positional_options_description* positional = nullptr;
  std::vector<std::string> args;             ///< arguments after the subcommand name
  std::set<std::string> all_known;           ///< option names of every subcommand (INI keys of others are ignored)
  std::set<std::string> sections;            ///< the subcommands' names: the INI sections there may be
};

/// Parses with the precedence above and runs notify(). Throws UsageError for unknown options,
/// bad values, and InputError for a config file that is missing or not a regular file, or has an
/// unknown key or section. With --help, returns without
/// notify() (required options may be missing).
po::variables_map parse(const ParseRequest& req);

/// The resolved options as "name=value" pairs (for the log and for file attributes).
std::vector<std::pair<std::string, std::string>> resolved(const po::variables_map& vm);

/// Names of the long options of a description.
std::set<std::string> option_names(const po::options_description& desc);

}  // namespace salm::cli
