/// Victim training: what an unauthorised user would do with a published dataset. Trains a fresh
/// model on training images (clean, or the uint8 protected ones) and measures it on the clean
/// test split after every epoch. Data-parallel over the ranks of a communicator, with the same
/// global batches for any number of ranks.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "salm/core/device.hpp"
#include "salm/core/options.hpp"
#include "salm/data/dataset.hpp"
#include "salm/dist/communicator.hpp"

namespace salm::eval {

using salm::VictimOptions;

struct EpochResult {
  int epoch = 0;
  double train_loss = 0, train_accuracy = 0, test_accuracy = 0, seconds = 0;
  /// Mean ROC AUC over labels (multi-label) or classes (one vs rest), as MedMNIST reports it; -1
  /// when no label has both positive and negative test rows.
  double test_auc = -1;
};

struct VictimResult {
  std::vector<EpochResult> curve;
  double final_test_accuracy = 0, best_test_accuracy = 0, final_test_auc = -1;
  double seconds = 0;
  std::int64_t train_rows = 0, test_rows = 0;
};

/// Trains on `train` (this rank's rows of the training split; `total_train` rows in all) and
/// tests on `test` (this rank's rows of the clean test split) after every epoch, on `device`.
/// `on_epoch` (optional) sees each epoch's result on every rank.
VictimResult train_victim(const VictimOptions& opt, const data::SplitData& train, std::int64_t total_train,
                          const data::SplitData& test, const data::DatasetInfo& info, dist::Communicator& comm,
                          const std::function<void(const EpochResult&)>& on_epoch = {},
                          const Device& device = Device::cpu());

/// The accuracy of always predicting the most frequent class (single-label) or, for
/// multi-label, the most frequent value of each label, given per-class counts.
double chance_accuracy(const std::vector<std::int64_t>& counts, std::int64_t rows, bool multi_label);

}  // namespace salm::eval
