/// The min-min loop of SALM and EM (DESIGN.md section 2, Algorithm 1 of the paper):
/// repeat { train stage: SGD steps of the source model on x+delta (global batch, gradients
/// all-reduced); noise stage: masked PGD steps minimising the loss for every local sample;
/// check: train accuracy on x+delta, all-reduced } until --max-iters or --stop-acc (or, with
/// --target-val-acc, until a fresh victim trained on the rows does badly enough on clean val).
///
/// It receives a model, this rank's shard and a communicator; it opens no file and parses no
/// option. Checkpoints go through a callback, so the format stays in `io`.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>

#include "salm/core/options.hpp"
#include "salm/dist/communicator.hpp"
#include "salm/models/models.hpp"

namespace torch::optim {
class SGD;
}

namespace salm::methods {

/// This rank's rows of the split, as tensors.
struct ShardTensors {
  at::Tensor x;             ///< float [n, C, H, W] in [0, 1]
  at::Tensor y;             ///< int64 [n] (classes) or float [n, L] (multi-label 0/1)
  std::int64_t row_begin = 0;   ///< global index of the first local row
  std::int64_t total_rows = 0;  ///< rows of the split being protected (all ranks)
  std::int64_t num_classes = 0;
  bool multi_label = false;
};

/// Where the loop is: enough to resume exactly.
struct LoopPosition {
  int iteration = 0;      ///< outer iteration (0-based) in progress
  int stage = 0;          ///< 0 train, 1 noise, 2 check
  std::int64_t step = 0;  ///< next train step (stage 0) or next noise batch (stage 1)
};

/// One noise stage's work: image-steps run and skipped by the active set (all ranks).
struct ActiveRecord {
  int iteration = 0;  ///< 1-based, as in the log
  std::int64_t run = 0, skipped = 0;
  double active_fraction() const { return run + skipped > 0 ? static_cast<double>(run) / static_cast<double>(run + skipped) : 1.0; }
};

/// State of the loop besides the model and optimiser.
struct NoiseState {
  at::Tensor delta;  ///< float [n, C, H, W]: the noise of the local rows
  at::Tensor mask;   ///< uint8 [n, H, W]
  at::Tensor masked; ///< uint8 [n]: 1 once the row has a mask (for --mask-update once)
  /// float [classes, H, W] (--mask-scope class): importance pooled over every rank's rows of each
  /// class, fixed at the start of a noise stage; undefined otherwise.
  at::Tensor class_score;
  LoopPosition pos;
  double train_acc = 0, train_loss = 0;
  int iterations_done = 0;
  /// The closed loop's val checks so far: (iterations done, the fresh victim's val accuracy).
  std::vector<std::pair<int, double>> val_checks;
  /// The active set (--active-set, --active-loss), per finished noise stage over all ranks.
  std::vector<ActiveRecord> active;
  /// Image-steps run and skipped in the noise stage in progress: this rank's since the (re)start;
  /// a resumed rank 0 also carries all ranks' counts from before the stop.
  std::int64_t stage_run = 0, stage_skipped = 0;
};

struct PhaseSeconds {
  double train_stage = 0, noise_stage = 0, check = 0, communication = 0;
  std::int64_t noise_image_steps = 0;  ///< images x PGD steps run, this rank
  std::int64_t noise_image_steps_skipped = 0;  ///< left out by the active set, this rank
  std::int64_t train_images = 0;       ///< images through a train step, this rank
};

struct LoopHooks {
  /// Called (collectively) at the end of every outer iteration and when a stop was requested.
  std::function<void(const NoiseState&, torch::nn::Module&, torch::optim::SGD&)> checkpoint;
  /// Polled at step boundaries on every rank; the loop all-reduces the answer (any rank asks, all stop).
  std::function<bool()> stop_requested;
  /// The closed loop (--target-val-acc): called collectively after every --check-every
  /// iterations (and the last); returns the val accuracy of a fresh victim trained on the rows as
  /// they are now. It must not touch the state, the model or any random stream of the loop.
  std::function<double(const NoiseState&)> val_check;
};

struct LoopResult {
  NoiseState state;
  PhaseSeconds seconds;
  bool interrupted = false;  ///< stopped on request, checkpoint written, not finished
  bool reached_stop_acc = false;
  bool reached_target = false;  ///< --target-val-acc: the last val check was at or below it
};

class MinMin {
public:
  MinMin(ProtectOptions opt, std::shared_ptr<models::Net> model, dist::Communicator& comm);
  ~MinMin();

  /// Runs (or resumes, when `resume` holds a state and `load` restores model and optimiser)
  /// the loop on `shard`.
  LoopResult run(const ShardTensors& shard, std::optional<NoiseState> resume,
                 const std::function<void(torch::nn::Module&, torch::optim::SGD&)>& load, const LoopHooks& hooks);

  /// Number of noise batches every rank runs (the same on all ranks: collectives stay matched).
  std::int64_t noise_batches(std::int64_t total_rows) const;

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// The change rule of the active set (--active-change) after one PGD step of a batch of rows.
/// `prev`, `cur` and `next` [n, C, H, W] are each row's noise one step before, now and after the
/// step; `prev` is undefined, or `cur` marked not `cur_ordinary`, when that state was not reached by
/// an ordinary step of the fixed model (the first step may use the mask's gradient). `values` [n]:
/// the noise values each row may change. `steps_left`: the steps after this one.
///
/// A row is done when at most `share` of its values differ between `next` and `prev`. A row that
/// repeats a state (next == cur, or next == prev) can only cycle from there, the model being fixed
/// and the step a function of the state: it ends where its remaining steps would, on `next`, or on
/// `cur` in a 2-cycle with an odd number of steps left. Other done rows end on `next`.
struct SettledRows {
  at::Tensor done;   ///< bool [n]
  at::Tensor final;  ///< [n, C, H, W]: the noise each done row keeps
};
SettledRows settled_rows(const at::Tensor& prev, const at::Tensor& cur, bool cur_ordinary, const at::Tensor& next,
                         const at::Tensor& values, double share, int steps_left);

/// clip(round(255 * (x + delta))) as uint8 NHWC, from float NCHW.
at::Tensor protected_images(const at::Tensor& x, const at::Tensor& delta);

/// The mask of the top `m` pixels of `score` [n, H, W] per image (ties: lower index first).
at::Tensor top_pixels_mask(const at::Tensor& score, std::int64_t m);

}  // namespace salm::methods
