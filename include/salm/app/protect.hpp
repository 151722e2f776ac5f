/// `salm protect` as library code: read this rank's rows of the dataset, run the method on them
/// (resuming from a checkpoint of the same options and data), write the noise file collectively
/// and publish it atomically, and the JSON report. cli parses the options and calls `protect`;
/// tests call it in-process with any communicator.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "salm/core/device.hpp"
#include "salm/core/options.hpp"
#include "salm/data/reader.hpp"
#include "salm/dist/communicator.hpp"

namespace salm::app {

/// The files of a protect job (none of them changes the noise).
struct ProtectFiles {
  std::string data;            ///< dataset to protect
  std::string out;             ///< noise file
  std::string checkpoint_dir;  ///< default OUT.ckpt
  bool no_checkpoint = false, keep_checkpoint = false;
  std::string report;          ///< JSON report ("" : none)
  bool overwrite = false;
  bool estimate = false;       ///< only estimate the run's cost (app/estimate.hpp); write nothing but --report

  template <class Self, class V>
  static void fields(Self& o, V&& v) {
    using opt::field;
    v(field("data", o.data, "dataset to protect (salm .h5 or MedMNIST .npz)").alias('d').required().not_result());
    v(field("out", o.out, "noise file to write (.h5)").alias('o').required().not_result());
    v(field("checkpoint-dir", o.checkpoint_dir, "checkpoint directory (default: OUT.ckpt)").not_result());
    v(field("no-checkpoint", o.no_checkpoint, "write no checkpoints").not_result());
    v(field("keep-checkpoint", o.keep_checkpoint, "keep the checkpoint after success").not_result());
    v(field("report", o.report, "also write a JSON report (summary, per-phase seconds, throughput)").not_result());
    v(field("overwrite", o.overwrite, "replace --out (and --report) if they exist").not_result());
    v(field("estimate", o.estimate,
            "do not protect: calibrate on a few steps of the real data, model, ranks and device, and print the "
            "predicted time per iteration and for the whole run, peak memory per rank and a Slurm --time (--report: "
            "as JSON)")
          .not_result());
  }
};

struct ProtectRequest {
  ProtectOptions options;
  ProtectFiles files;
  data::OpenOptions open;
  std::string command_line;  ///< stored in the noise file and the report
  Device device;             ///< where the shard, the noise and the source model live (cli resolves --device)
  /// Polled at every step boundary on every rank (any rank asking stops all), and once before the
  /// first step: the number of the signal that asked to stop, or 0. Empty: never stop early.
  std::function<int()> stop_signal;
  /// Called at every step boundary before `stop_signal`: a signal number to act on as if it had
  /// arrived, or 0. Testing aids plug in here (cli/test_hooks.hpp), not in the product's path.
  std::function<int()> step_hook;
};

enum class ProtectStatus {
  completed,  ///< the noise file is published
  stopped,    ///< stopped on request: the checkpoint is written (min-min), nothing at --out
  not_protected,  ///< --target-val-acc never met: the noise file is written and says "failed"
};

struct ProtectResult {
  ProtectStatus status = ProtectStatus::completed;
  std::int64_t rows = 0;
  int iterations = 0;
  double train_accuracy = 0;    ///< of the source model on x+delta, at the end
  bool reached_stop_acc = false;
  std::vector<std::pair<int, double>> val_checks;  ///< --target-val-acc: (iterations done, val accuracy)
  bool resumed = false;         ///< started from a checkpoint
  std::string checkpoint_dir;   ///< "" when the run writes none
};

/// Runs the job (collective over `comm`). Throws salm::Error subclasses for bad input and
/// failures; a stop request is not an error but a status.
ProtectResult protect(const ProtectRequest& request, dist::Communicator& comm);

}  // namespace salm::app
