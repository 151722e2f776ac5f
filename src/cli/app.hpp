// The salm binary: subcommands, dispatch, and the one place where errors become exit codes.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "options.hpp"
#include "salm/data/reader.hpp"
#include "salm/dist/communicator.hpp"
#include "salm/dist/shard.hpp"
#include "salm/eval/similarity.hpp"

namespace salm::io {
class H5File;
}

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

/// Options that say what a dataset file does not (npz): --num-classes, --task, --name.
void add_dataset_options(po::options_description& o);
/// The OpenOptions from those options (UsageError for bad values).
data::OpenOptions dataset_open_options(const po::variables_map& vm);

/// --noise (required) and --data (the dataset it protects; default: the file's source).
void add_noise_source_options(po::options_description& o);
/// A noise file opened for reading; InputError unless it is one.
io::H5File open_noise_file(const std::string& path);
/// The split of its source that a noise file protects (its `split` attribute; train if absent).
std::string noise_split(const io::H5File& f);
/// The dataset a noise file protects: `data_path` when given, else the file's `source` attribute;
/// InputError when neither names one or it lacks the protected split.
std::unique_ptr<data::DatasetReader> open_noise_source(const io::H5File& f, const std::string& data_path,
                                                       const data::OpenOptions& open);

/// Rows of a noise file with the clean rows they were made from (shared by evaluate and inspect).
struct ProtectedPairs {
  data::SplitData protected_;  ///< /protected and /labels; row_begin = the first noise-file row
  data::SplitData clean;       ///< the source rows named by /index, in the same order and with the same row_begin
};
/// Reads `rows` of the open noise file `f` and the source rows of `reader` that its /index names,
/// checked: same image shape, /index inside the source split, /labels equal to the source's labels
/// (InputError otherwise: a noise file of another dataset).
ProtectedPairs read_protected_pairs(const io::H5File& f, data::DatasetReader& reader, const dist::Shard& rows);
/// The similarity block of evaluate reports and `inspect --similarity`.
nlohmann::json similarity_json(const eval::Similarity& s);
/// The same as one line of text.
std::string similarity_text(const eval::Similarity& s);

/// All subcommands, in help order.
const std::vector<Subcommand>& subcommands();

/// The whole program (main delegates here). Returns the exit code.
int run_main(int argc, char** argv);

}  // namespace salm::cli
