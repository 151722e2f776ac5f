/// `salm inspect` as library code: the summary of a dataset (splits, shapes, classes, background)
/// or of a noise file (options, noise statistics; optionally its similarity to the clean data).
#pragma once

#include <iosfwd>
#include <optional>
#include <string>

#include "salm/core/option_table.hpp"
#include "salm/dist/communicator.hpp"

namespace salm::app {

struct InspectRequest {
  std::string file;
  bool json = false;
  bool similarity = false;
  bool shortcut = false;
  std::optional<std::string> data;

  template <class Self, class V>
  static void fields(Self& o, V&& v) {
    using opt::field;
    v(field("file", o.file, "the file to summarise (also the first positional argument)").required());
    v(field("json", o.json, "print JSON instead of text"));
    v(field("similarity", o.similarity,
            "noise file: SSIM, PSNR, L0 density and L-inf of its protected images against the clean ones"));
    v(field("shortcut", o.shortcut,
            "noise file: how learnable the noise alone is: a linear probe fitted on delta to predict the labels, "
            "scored on held-out rows, beside chance"));
    v(field("data", o.data, "with --similarity: the clean dataset (default: the noise file's 'source' attribute)"));
  }
};

/// Reads the file (collective: every rank summarises its rows) and prints the summary on rank 0.
void inspect(const InspectRequest& request, dist::Communicator& comm, std::ostream& out);

}  // namespace salm::app
