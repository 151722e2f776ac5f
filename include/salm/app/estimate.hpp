/// `salm protect --estimate`: what a protect run will cost, measured before it is run. A short
/// calibration on the real data, model, ranks, threads and device (a few train steps and a full
/// noise stage on a slice of each rank's rows, plus one victim epoch where the closed loop is on)
/// is scaled to the whole run: time per outer iteration and for the whole run (the max-iters
/// bound), peak host memory per rank, and a Slurm --time with a margin. Nothing is written but
/// the optional JSON report.
#pragma once

#include <cstdint>
#include <string>

#include "salm/app/protect.hpp"

namespace salm::app {

struct ProtectEstimate {
  std::int64_t rows = 0;               ///< rows the run protects
  int ranks = 1;
  std::string device, method, model;
  std::int64_t calibration_rows = 0;   ///< rows of the calibration, all ranks
  int calibration_train_steps = 0;
  double calibration_seconds = 0;      ///< what the calibration itself took
  double setup_seconds = 0;            ///< reading this rank's rows and the SHA-256 of the data (measured)
  double train_step_seconds = 0;       ///< one source-model step (global batch), all-reduce included
  double train_stage_seconds = 0;      ///< per outer iteration
  std::int64_t noise_batches = 0;      ///< per rank and noise stage
  double noise_batch_seconds = 0;      ///< one noise batch, all its PGD steps, on the slowest rank
  double noise_stage_seconds = 0;      ///< per outer iteration
  double source_check_seconds = 0;     ///< the source's accuracy on x + delta, per iteration
  double val_check_seconds = 0;        ///< one closed-loop val check (0: no --target-val-acc)
  int val_checks = 0;                  ///< at most, over the whole run
  double iteration_seconds = 0;        ///< train + noise stage + source check
  int max_iters = 0;
  double run_seconds = 0;              ///< the bound: set-up + max-iters iterations + every val check
  double peak_host_mib = 0;            ///< peak resident memory per rank (the largest), scaled to all rows
  double margin = 0.2;                 ///< added to run_seconds for --time, with one minute of start-up
  std::string slurm_time;              ///< for sbatch --time: [D-]HH:MM:SS, whole minutes
};

/// Runs the calibration (collective over `comm`) for the job `req` describes; `req.files.out` is
/// neither read nor written.
ProtectEstimate estimate_protect(const ProtectRequest& req, dist::Communicator& comm);

/// The estimate as a few lines of text for the user, and as JSON.
std::string estimate_text(const ProtectEstimate& e);
std::string estimate_json(const ProtectEstimate& e);

/// Seconds as an sbatch --time value, rounded up to whole minutes: "00:07:00", "1-02:00:00".
std::string slurm_time(double seconds);

}  // namespace salm::app
