/// The IDX format of MNIST and Fashion-MNIST (as Debian's `dataset-fashion-mnist` installs it under
/// /usr/share/datasets/fashion-mnist): a directory with `train-images-idx3-ubyte`,
/// `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte` and `t10k-labels-idx1-ubyte`, each plain or
/// gzipped (`.gz`). `t10k` is read as the `test` split; there is no `val` split.
#pragma once

#include <memory>
#include <string>

#include "salm/data/reader.hpp"

namespace salm::data {

/// True when `dir` holds at least the train images of an IDX dataset (plain or .gz).
bool is_idx_directory(const std::string& dir);

/// Opens and validates an IDX directory: magic numbers (unsigned byte, 3 dimensions for images and
/// 1 for labels), sizes that match the header exactly, as many labels as images, labels within the
/// classes. Both splits are decompressed into memory (Fashion-MNIST: 55 MB). Throws InputError
/// naming the file and the problem.
std::unique_ptr<DatasetReader> open_idx_directory(const std::string& dir, const OpenOptions& options);

}  // namespace salm::data
