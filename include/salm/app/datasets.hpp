/// `salm synth` and `salm convert` as library code: dataset files written collectively (every
/// rank its own rows of every split) and published atomically.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "salm/core/option_table.hpp"
#include "salm/data/reader.hpp"
#include "salm/data/synth.hpp"
#include "salm/dist/communicator.hpp"

namespace salm::app {

/// The output of a job that writes one file.
struct OutputFile {
  std::string out;
  bool overwrite = false;

  template <class Self, class V>
  static void fields(Self& o, V&& v, const char* help) {
    v(opt::field("out", o.out, help).alias('o').required().not_result());
    v(opt::field("overwrite", o.overwrite, "replace --out if it exists").not_result());
  }
};

struct SynthRequest {
  data::SynthOptions options;
  OutputFile output;

  template <class Self, class V>
  static void fields(Self& o, V&& v) {
    OutputFile::fields(o.output, v, "output dataset file (.h5)");
    data::SynthOptions::fields(o.options, v);
  }
};

/// Writes the built-in dataset (collective).
void synth(const SynthRequest& request, dist::Communicator& comm);

struct ConvertRequest {
  std::string in;
  OutputFile output;
  std::vector<std::string> max_rows;          ///< "N" (every split) or "SPLIT=N"
  std::optional<std::int64_t> val_from_train;  ///< the last N train rows become the val split
  data::OpenOptions open;

  template <class Self, class V>
  static void fields(Self& o, V&& v) {
    using opt::field;
    v(field("in", o.in,
            "input dataset: MedMNIST .npz, a directory of IDX files (MNIST/Fashion-MNIST, plain or .gz), or a salm .h5")
          .alias('i')
          .required());
    OutputFile::fields(o.output, v, "output dataset file (.h5)");
    v(field("max-rows", o.max_rows,
            "keep only the first N rows: N (every split) or SPLIT=N (repeatable), e.g. --max-rows train=5000"));
    v(field("val-from-train", o.val_from_train,
            "make a val split of the last N train rows (after --max-rows), for inputs without one (Fashion-MNIST); "
            "the train split keeps the rows before them"));
    data::OpenOptions::fields(o.open, v);
  }
};

/// Converts a dataset into a salm dataset .h5 (collective).
void convert(const ConvertRequest& request, dist::Communicator& comm);

}  // namespace salm::app
