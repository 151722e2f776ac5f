/// Rows of a dataset as LibTorch tensors, and the random flip + crop that the EOT of `protect` and
/// the victims' augmentation share. The uint8 image transforms (filters, JPEG, crop, grayscale)
/// are in data/transforms.hpp, without Torch.
#pragma once

#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>

#include "salm/data/dataset.hpp"

namespace salm::data {

/// uint8 NHWC rows -> float NCHW in [0, 1] (a copy).
at::Tensor images_to_tensor(const SplitData& rows);

/// Labels: int64 [n] (single-label tasks), or float [n, L] of 0/1 when `multi_label`.
at::Tensor labels_to_tensor(const SplitData& rows, bool multi_label);

/// Random horizontal flip and random crop of the 2-pixel zero-padded image, per row; the draw of
/// row `rows[i]` is a function of (seed, rows[i]) only.
at::Tensor flip_crop(const at::Tensor& x, const std::vector<std::int64_t>& rows, std::uint64_t seed);

}  // namespace salm::data
