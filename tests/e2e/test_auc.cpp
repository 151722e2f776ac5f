// The evaluate report's ROC AUC on the multi-label fixture (the salm binary).
#include <gtest/gtest.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "test_support.hpp"

using namespace salm;

TEST(Auc, EvaluateReportsItForMultiLabelData) {
  std::string npz = test::fixture("fashion_multilabel_stored.npz");
  if (npz.empty()) GTEST_SKIP() << "no fixtures directory";
  test::TempDir dir;
  auto r = test::run_salm({"evaluate", "--data", npz, "--model", "small-cnn", "--epochs", "2", "--batch-size", "32",
                           "--optimizer", "adam", "--report", dir.file("r.json"), "--curve", dir.file("c.csv")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::ifstream in(dir.file("r.json"));
  auto j = nlohmann::json::parse(in);
  EXPECT_EQ(j["task"], "multi-label");
  double auc = j["clean_test_auc"].get<double>();
  EXPECT_GT(auc, 0.5) << "garment/footwear/bag labels are easy: a trained model ranks better than chance";
  EXPECT_LE(auc, 1.0);
  EXPECT_EQ(j["curve"].back()["test_auc"].get<double>(), auc);
  EXPECT_NE(test::read_file(dir.file("c.csv")).find("test_auc"), std::string::npos);
}
