/// Pieces shared by every data-parallel training loop (the source model of `protect`, the
/// victims of `evaluate`): losses per task, global batches that are the same for any number of
/// ranks, and one bucketed all-reduce of gradients and batch-norm statistics.
#pragma once

#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>

#include "salm/dist/communicator.hpp"

namespace torch::nn {
class Module;
}

namespace salm::models {

/// uint8 NHWC rows -> float NCHW in [0,1] (a copy).
at::Tensor images_to_tensor(const std::uint8_t* data, std::int64_t n, std::int64_t h, std::int64_t w, std::int64_t c);

/// Random horizontal flip and random crop of the 2-pixel zero-padded image, per row; the draw of
/// row `rows[i]` is a function of (seed, rows[i]) only.
at::Tensor flip_crop(const at::Tensor& x, const std::vector<std::int64_t>& rows, std::uint64_t seed);

/// Cross-entropy for single-label tasks (y int64 [n]); BCE-with-logits averaged over labels for
/// multi-label (y float [n, L]). The mean over rows, or the sum when `sum`.
at::Tensor task_loss(const at::Tensor& logits, const at::Tensor& y, bool multi_label, bool sum);

/// Correct predictions: argmax == y, or, multi-label, the fraction of labels right per row, summed.
double count_correct(const at::Tensor& logits, const at::Tensor& y, bool multi_label);

/// A random permutation of [0, n) determined by (seed, ids): the same on every rank.
std::vector<std::int64_t> permutation(std::int64_t n, std::uint64_t seed, std::initializer_list<std::uint64_t> ids);

/// The rows of `global_rows` that this rank owns ([row_begin, row_begin + n_local)), as local
/// indices in ascending order.
std::vector<std::int64_t> local_rows(const std::vector<std::int64_t>& global_rows, std::int64_t row_begin,
                                     std::int64_t n_local);

/// Sums the gradients (missing ones as zeros) and averages the floating-point buffers of `model`
/// over the ranks, in one flat bucket. Returns the seconds spent communicating.
double allreduce_gradients(torch::nn::Module& model, dist::Communicator& comm);

}  // namespace salm::models
