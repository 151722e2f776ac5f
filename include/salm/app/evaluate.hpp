/// `salm evaluate` as library code: a victim trained on the clean or the protected training rows,
/// measured on a clean split after every epoch; the audit's preprocessing and partial protection;
/// `--suite`, the whole audit in one run; the reports, curve and plot. Collective over the ranks.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "salm/core/device.hpp"
#include "salm/core/options.hpp"
#include "salm/data/reader.hpp"
#include "salm/data/transforms.hpp"
#include "salm/dist/communicator.hpp"
#include "salm/eval/audit.hpp"

namespace salm::app {

/// What the victim is trained and measured on, and the audit's changes to its training data.
struct AuditSettings {
  std::string eval_split = "test";
  std::optional<data::Filter> filter;
  std::optional<int> jpeg;
  std::optional<double> crop;
  bool grayscale = false;
  std::optional<double> fraction;
  std::optional<std::string> classes;

  template <class Self, class V>
  static void fields(Self& o, V&& v) {
    using opt::field;
    v(field("eval-split", o.eval_split,
            "the clean split the victim is measured on: test, or val (to choose among protect settings or seeds "
            "without looking at the test split; the report's *_test_* figures are then the val split's)"));
    v(field("filter", o.filter, "purify the training images: 3x3 mean, median or gaussian filter (not the test images)"));
    v(field("jpeg", o.jpeg, "JPEG-compress and decode the training images at quality Q in [1, 100] (not the test images)")
          .in(1, 100));
    v(field("crop", o.crop, "centre crop to fraction F in (0, 1] of height and width, resized back (train and test images)")
          .above(0)
          .at_most(1));
    v(field("grayscale", o.grayscale, "BT.601 luma in every channel (train and test images)"));
    v(field("fraction", o.fraction,
            "only P% (0 < P <= 100) of the train rows use protected images, the rest clean (needs --noise)")
          .above(0)
          .at_most(100));
    v(field("classes", o.classes,
            "only train rows of these classes (comma-separated ids) use protected images (needs --noise)"));
  }
};

/// The files of an evaluate run.
struct EvaluateFiles {
  std::string data;   ///< the dataset: its train split, and the clean split the victim is measured on
  std::string noise;  ///< noise file: train on its /protected images ("" : on the clean train split)
  std::optional<std::string> suite;
  std::string report, curve, plot;
  std::vector<std::string> plot_with;
  bool overwrite = false;

  template <class Self, class V>
  static void fields(Self& o, V&& v) {
    using opt::field;
    v(field("data", o.data, "dataset (its clean test split is the yardstick)").alias('d').required().not_result());
    v(field("noise", o.noise, "noise file: train on its /protected images (else on the clean train split)").not_result());
    v(field("suite", o.suite, "run the whole audit (needs --noise); write its table to FILE.json and FILE.md").not_result());
    v(field("report", o.report, "write a JSON report").not_result());
    v(field("curve", o.curve, "write the learning curve as CSV").not_result());
    v(field("plot", o.plot, "draw the test-accuracy curve(s) into a PNG (with --suite: every row's)").not_result());
    v(field("plot-with", o.plot_with,
            "also draw the curve of an earlier evaluate report (JSON), e.g. the clean run's (repeatable)")
          .not_result());
    v(field("overwrite", o.overwrite, "replace --report, --curve or the --suite files if they exist").not_result());
  }
};

struct EvaluateRequest {
  VictimOptions victim;
  AuditSettings audit;
  EvaluateFiles files;
  data::OpenOptions open;
  std::string command_line;
  Device device;  ///< where the victims train (cli resolves --device)
};

struct EvaluateResult {
  double chance = 0;
  std::vector<eval::SuiteRow> rows;  ///< one run, or the suite's (the clean run first)
};

/// Runs the victim(s) and writes the requested files (rank 0). Throws UsageError for
/// inconsistent settings before anything is read or written.
EvaluateResult evaluate(const EvaluateRequest& request, dist::Communicator& comm);

/// FILE.json -> FILE.md (the Markdown table beside a suite's JSON); any other name gets .md appended.
std::string markdown_path(const std::string& json_path);

}  // namespace salm::app
