/// Checkpoints of `salm protect` (DESIGN.md section 4), in `--checkpoint-dir`:
///   latest             the name of the current generation (replaced atomically by rename)
///   <generation>/      state.h5: /delta float [N,C,H,W], /mask uint8 [N,H,W], /masked uint8 [N],
///                      written collectively (parallel HDF5, rows in dataset order, so a resume
///                      may use another number of ranks); model.pt: source model and optimiser
///                      (LibTorch archive, rank 0); meta.json: loop position and provenance.
/// A generation is complete before `latest` points to it; the previous one is then removed.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>

#include "salm/dist/communicator.hpp"

namespace torch::nn {
class Module;
}
namespace torch::optim {
class Optimizer;
}

namespace salm::io {

struct CheckpointMeta {
  int iteration = 0, stage = 0;
  std::int64_t step = 0;
  int iterations_done = 0;
  double train_acc = 0, train_loss = 0;
  std::vector<std::pair<int, double>> val_checks;  ///< --target-val-acc: (iterations done, val accuracy)
  /// The active set per finished noise stage: (iteration, image-steps run, skipped), all ranks;
  /// and the counts of the noise stage in progress (run, skipped), all ranks.
  std::vector<std::array<std::int64_t, 3>> active;
  std::array<std::int64_t, 2> stage_steps{0, 0};
  std::string fingerprint;  ///< the options and data that determine the result
  int ranks = 1;
  std::string generation;   ///< directory name inside the checkpoint dir
  std::string written_at;
};

class CheckpointStore {
public:
  CheckpointStore(std::string dir, dist::Communicator& comm);

  const std::string& dir() const { return dir_; }

  /// Collective: writes a new generation and makes it the latest.
  /// `class_score` (the same on every rank) may be undefined.
  void save(CheckpointMeta meta, std::int64_t total_rows, std::int64_t row_begin, const at::Tensor& delta,
            const at::Tensor& mask, const at::Tensor& masked, const at::Tensor& class_score, torch::nn::Module& model,
            torch::optim::Optimizer& opt);

  /// The latest complete checkpoint, if any. Throws InputError if it is unreadable.
  std::optional<CheckpointMeta> latest() const;

  /// This rank's rows of the latest generation into the given tensors (shapes must match).
  /// `class_score` is set when the checkpoint holds one, else left undefined.
  void load_rows(const CheckpointMeta& meta, std::int64_t row_begin, at::Tensor& delta, at::Tensor& mask,
                 at::Tensor& masked, at::Tensor& class_score) const;
  void load_model(const CheckpointMeta& meta, torch::nn::Module& model, torch::optim::Optimizer& opt) const;

  /// Collective: removes the checkpoint directory's generations and `latest` (after success).
  void remove();

private:
  std::string dir_;
  dist::Communicator& comm_;
};

}  // namespace salm::io
