/// ROC AUC as MedMNIST reports it (mean over labels for multi-label data, one-vs-rest mean over
/// classes otherwise), computed from histograms that ranks can add up: each rank counts its own
/// test rows, one all-reduce, and every rank has the same AUC. Scores are binned by their
/// log-odds (4096 bins over [-16, 16]), so confident scores near 0 or 1 stay apart; rows in one
/// bin count as ties (half credit).
#pragma once

#include <cstdint>

#include <ATen/core/Tensor.h>

#include "salm/dist/communicator.hpp"

namespace salm::eval {

class AucCounts {
public:
  explicit AucCounts(std::int64_t labels);
  /// Adds a batch: logits [n, L]; y int64 [n] (classes) or float 0/1 [n, L] (multi-label).
  void add(const at::Tensor& logits, const at::Tensor& y, bool multi_label);
  /// Sums the counts over the ranks of `comm` (collective).
  void allreduce(dist::Communicator& comm);
  /// The mean AUC over labels that have both positive and negative rows; -1 if none has.
  double mean() const;

private:
  at::Tensor counts_;  ///< int64 [L, 2 (positive, negative), bins]
};

}  // namespace salm::eval
