/// MedMNIST `.npz` files as downloaded: keys `train_images`, `train_labels`, `val_*`, `test_*`;
/// images uint8 [N,H,W] or [N,H,W,3]; labels [N,1] or [N,L]. Other keys are ignored with a note.
#pragma once

#include <memory>
#include <string>

#include "salm/data/reader.hpp"

namespace salm::data {

/// Opens and validates a MedMNIST `.npz`: every present split has images and labels of matching
/// length, uint8 images of one shape, integer labels valid for the task. `train` and `test` are
/// required. Throws InputError naming the file (and array) and the problem.
std::unique_ptr<DatasetReader> open_medmnist_npz(const std::string& path, const OpenOptions& options);

}  // namespace salm::data
