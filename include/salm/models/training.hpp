/// Pieces shared by every data-parallel training loop (the source model of `protect`, the
/// victims of `evaluate`): losses per task, global batches that are the same for any number of
/// ranks, and one bucketed all-reduce of gradients and batch-norm statistics.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include <ATen/core/Tensor.h>

#include "salm/core/options.hpp"
#include "salm/dist/communicator.hpp"

namespace torch::nn {
class Module;
}
namespace torch::optim {
class Optimizer;
}

namespace salm::models {

/// Cross-entropy for single-label tasks (y int64 [n]); BCE-with-logits averaged over labels for
/// multi-label (y float [n, L]). The mean over rows, or the sum when `sum`. On a CUDA device the
/// cross-entropy is log-softmax and gather (LibTorch's NLL loss has no deterministic CUDA kernel).
at::Tensor task_loss(const at::Tensor& logits, const at::Tensor& y, bool multi_label, bool sum);
/// The same loss per row: float [n].
at::Tensor task_loss_rows(const at::Tensor& logits, const at::Tensor& y, bool multi_label);

/// Correct predictions: argmax == y, or, multi-label, the fraction of labels right per row,
/// summed; as a 0-dim double tensor on the logits' device (no host round trip).
at::Tensor correct_tensor(const at::Tensor& logits, const at::Tensor& y, bool multi_label);
/// The same as a number (one host round trip).
double count_correct(const at::Tensor& logits, const at::Tensor& y, bool multi_label);

/// A random permutation of [0, n) determined by (seed, ids): the same on every rank.
std::vector<std::int64_t> permutation(std::int64_t n, std::uint64_t seed, std::initializer_list<std::uint64_t> ids);

/// The rows of `global_rows` that this rank owns ([row_begin, row_begin + n_local)), as local
/// indices in ascending order.
std::vector<std::int64_t> local_rows(const std::vector<std::int64_t>& global_rows, std::int64_t row_begin,
                                     std::int64_t n_local);

class Net;

/// What one data-parallel step saw on this rank.
struct StepResult {
  double loss_sum = 0;        ///< summed loss of this rank's rows
  double correct = 0;         ///< count_correct of this rank's rows
  std::int64_t rows = 0;      ///< rows this rank contributed
  double communication = 0;   ///< seconds in the all-reduce
};

/// This rank's rows of a global batch: local indices on the host (for per-row random draws) and
/// the same as an int64 tensor on the data's device (for index_select).
struct LocalRows {
  std::vector<std::int64_t> rows;  ///< ascending local row indices
  at::Tensor index;
};

/// One SGD/Adam step on the global batch `batch` (global row ids, the same on every rank): this
/// rank forwards the rows it owns (`inputs(local)` gives their inputs; `y` are this rank's labels,
/// on the model's device), the summed loss is divided by the global batch size, gradients and
/// batch-norm statistics are all-reduced, and `optimizer` steps. A rank holding a single row of a
/// multi-rank batch sits it out (batch norm needs two rows) but still joins the all-reduce.
/// `precision` applies on a CUDA device (models/device.hpp).
StepResult data_parallel_step(Net& model, torch::optim::Optimizer& optimizer, const std::vector<std::int64_t>& batch,
                              std::int64_t row_begin, std::int64_t n_local,
                              const std::function<at::Tensor(const LocalRows& local)>& inputs, const at::Tensor& y,
                              bool multi_label, dist::Communicator& comm, Precision precision = Precision::fp32);

/// Copies rank `root`'s parameters and buffers into every rank's model (one bucket per dtype):
/// the same initial model everywhere.
void broadcast_model(torch::nn::Module& model, dist::Communicator& comm, int root = 0);

/// Sums the gradients (missing ones as zeros) and averages the floating-point buffers of `model`
/// over the ranks, in one flat bucket. Returns the seconds spent communicating.
double allreduce_gradients(torch::nn::Module& model, dist::Communicator& comm);

}  // namespace salm::models
