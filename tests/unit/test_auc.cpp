// ROC AUC from histograms: exact values on hand-made scores, multi-label and one-vs-rest.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "salm/dist/communicator.hpp"
#include "salm/eval/auc.hpp"
#include "test_support.hpp"

using namespace salm;

TEST(Auc, MultiLabelHandComputed) {
  // Label 0: positives score 2 and 1, negatives 0 and -1 -> perfectly ranked, AUC 1.
  // Label 1: positives 0.5 and -2, negatives 1 and -1 -> 1 of 4 pairs right (0.5 > -1), AUC 0.25.
  // Label 2: every row positive -> no AUC, left out of the mean.
  auto logits = torch::tensor({{2.0f, 0.5f, 1.0f}, {1.0f, -2.0f, 1.0f}, {0.0f, 1.0f, 1.0f}, {-1.0f, -1.0f, 1.0f}});
  auto y = torch::tensor({{1.0f, 1.0f, 1.0f}, {1.0f, 1.0f, 1.0f}, {0.0f, 0.0f, 1.0f}, {0.0f, 0.0f, 1.0f}});
  eval::AucCounts auc(3);
  auc.add(logits, y, true);
  EXPECT_NEAR(auc.mean(), (1.0 + 0.25) / 2, 1e-12);
  eval::AucCounts none(1);
  none.add(torch::zeros({2, 1}), torch::ones({2, 1}), true);
  EXPECT_EQ(none.mean(), -1);
}

TEST(Auc, OneVsRestTiesAndBatchesAndRanks) {
  // Two classes: class-1 logits decide. Rows 0,1 of class 1 score higher than rows 2,3 of class 0,
  // except one tie: AUC of each class = (3 + 0.5) / 4.
  auto logits = torch::tensor({{0.0f, 3.0f}, {0.0f, 1.0f}, {0.0f, 1.0f}, {0.0f, -2.0f}});
  auto y = torch::tensor({1, 1, 0, 0}, torch::kLong);
  eval::AucCounts whole(2), parts(2);
  whole.add(logits, y, false);
  parts.add(logits.narrow(0, 0, 3), y.narrow(0, 0, 3), false);  // batches add up
  parts.add(logits.narrow(0, 3, 1), y.narrow(0, 3, 1), false);
  EXPECT_NEAR(whole.mean(), 3.5 / 4, 1e-12);
  EXPECT_EQ(whole.mean(), parts.mean());
  dist::SelfCommunicator self;
  parts.allreduce(self);
  EXPECT_EQ(parts.mean(), whole.mean());
  // Confident scores (probabilities within 1e-6 of 1) stay apart: log-odds bins.
  auto sure = torch::tensor({{0.0f, 15.0f}, {0.0f, 14.0f}}), y2 = torch::tensor({1, 0}, torch::kLong);
  eval::AucCounts c(2);
  c.add(sure, y2, false);
  EXPECT_NEAR(c.mean(), 1.0, 1e-12);
}
