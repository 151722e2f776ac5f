/// The robustness audit of `salm evaluate`: victims trained on clean or protected rows, with a
/// preprocessing of the images (data/transforms.hpp) and partial protection (only a fraction of
/// the rows, or only some classes, protected); `--suite` runs them all; the JSON and Markdown
/// reports. Library code: app/evaluate wires it to files, tests call it in-process.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "salm/data/dataset.hpp"
#include "salm/data/transforms.hpp"
#include "salm/dist/communicator.hpp"
#include "salm/eval/figures.hpp"
#include "salm/eval/similarity.hpp"
#include "salm/eval/victim.hpp"

namespace salm::eval {

// ---- partial protection (--fraction, --classes) -----------------------------------------------

/// The rows of a split of `total` rows that get protected images when only `percent` (0, 100] of
/// them may: exactly round(percent/100 * total) rows (at least 1 when total > 0), those with the
/// smallest keys derive_seed(seed, "fraction", row). A pure function of (total, percent, seed): the
/// same on every rank, for any number of ranks. Returns one flag per row.
std::vector<std::uint8_t> fraction_selection(std::int64_t total, double percent, std::uint64_t seed);

/// Parses "0,3,5" into class ids; UsageError naming --classes for an empty list, a non-integer or
/// an id outside [0, num_classes). Duplicates are removed; the result is sorted.
std::vector<std::int64_t> parse_class_list(const std::string& list, std::int64_t num_classes);

// ---- runs -----------------------------------------------------------------------------------

/// One victim run of the audit.
struct AuditRun {
  std::string name;
  bool protected_ = false;            ///< train on the noise file's images (else on the clean rows)
  data::Preprocessing pre;
  double fraction = 100;              ///< percent of rows that use protected images
  std::vector<std::int64_t> classes;  ///< only rows of these classes use protected images (empty: all)
  /// "protected", "protected, filter median 3x3 (train)" or "clean": the label of its curve.
  std::string label() const;
};

/// This rank's training rows, read once and shared by every run of a suite.
struct TrainRows {
  data::SplitData clean;       ///< the clean train split, or the clean source rows of the noise file
  data::SplitData protected_;  ///< empty without a noise file
  std::int64_t total = 0;      ///< rows in all ranks
};

struct RunOutcome {
  VictimResult result;
  std::int64_t protected_rows = 0;  ///< over all ranks
  double protected_fraction = 0;    ///< protected_rows / all training rows
};

/// Trains and tests one victim (collective) on `device`. `test` is this rank's rows of the clean
/// split the victim is measured on.
RunOutcome run(const AuditRun& run, const TrainRows& rows, const data::SplitData& test, const VictimOptions& opt,
               const data::DatasetInfo& info, dist::Communicator& comm,
               const std::function<void(const EpochResult&)>& on_epoch = {}, const Device& device = Device::cpu());

/// The runs of --suite: clean, protected, and protected with each preprocessing and partial
/// protection. Grayscale only for colour data, classes only for single-label data of 2+ classes.
std::vector<AuditRun> suite_runs(const data::SplitShape& shape, const data::DatasetInfo& info);

/// The accuracy of always predicting the most frequent class of the clean split whose rows this
/// rank holds in `test` (collective: the counts are reduced over the ranks).
double chance_accuracy(const data::SplitData& test, std::int64_t total_rows, const data::DatasetInfo& info,
                       dist::Communicator& comm);

// ---- reports --------------------------------------------------------------------------------

/// What every report of one evaluate invocation states.
struct ReportContext {
  std::string data_path, noise_path, eval_split = "test", command_line;
  VictimOptions victim;
  int ranks = 1;
  std::int64_t train_rows = 0, test_rows = 0;
  data::DatasetInfo info;
  double chance = 0;
  std::optional<Similarity> similarity;  ///< protected vs clean training images, with a noise file
};

/// The JSON report of one run (`--report`).
nlohmann::json run_report(const ReportContext& ctx, const AuditRun& run, const RunOutcome& outcome);
/// The learning curve as CSV (`--curve`).
std::string curve_csv(const VictimResult& r);

struct SuiteRow {
  AuditRun run;
  RunOutcome outcome;
};
/// The JSON and Markdown tables of `--suite` (the first row is the clean run).
nlohmann::json suite_report(const ReportContext& ctx, const std::vector<SuiteRow>& rows);
std::string suite_markdown(const ReportContext& ctx, const std::vector<SuiteRow>& rows);

/// The similarity block of evaluate reports and `inspect --similarity`, and the same as one line.
nlohmann::json similarity_json(const Similarity& s);
std::string similarity_text(const Similarity& s);

/// The test-accuracy curve of a run, for --plot.
Curve curve_of(const std::string& label, const VictimResult& r);
/// The curve of an earlier evaluate report (--plot-with); InputError naming the file otherwise.
Curve curve_of_report(const std::string& path);

}  // namespace salm::eval
