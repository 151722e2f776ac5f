// salm evaluate with every audit option, --suite, and salm inspect --similarity on tiny built-in
// data (1 and 2 ranks), and every bad option (the salm binary).
#include <gtest/gtest.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "salm/eval/similarity.hpp"
#include "test_support.hpp"

using namespace salm;
using test::run_salm;
using test::tiny;

namespace {

const std::vector<std::string> kVictim{"--model", "small-cnn", "--epochs", "1", "--batch-size", "16"};

/// `salm evaluate --data tiny [--noise] <extra> --report R` and the parsed report.
nlohmann::json evaluate(const test::TempDir& dir, bool noise, const std::vector<std::string>& extra, int ranks = 1) {
  std::vector<std::string> a{"evaluate", "--data", tiny().data, "--report", dir.file("r.json"), "--overwrite"};
  if (noise) a.insert(a.end(), {"--noise", tiny().noise()});
  a.insert(a.end(), kVictim.begin(), kVictim.end());
  a.insert(a.end(), extra.begin(), extra.end());
  auto r = ranks == 1 ? run_salm(a) : test::run_salm_mpi(ranks, a);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  if (r.exit_code != 0) return {};
  std::ifstream in(dir.file("r.json"));
  return nlohmann::json::parse(in);
}

void expect_similarity_block(const nlohmann::json& s) {
  ASSERT_TRUE(s.is_object()) << s.dump();
  EXPECT_EQ(s["rows"], 48);
  EXPECT_GT(s["ssim_min"].get<double>(), 0.0);
  EXPECT_LE(s["ssim_min"].get<double>(), s["ssim_mean"].get<double>());
  EXPECT_LT(s["ssim_mean"].get<double>(), 1.0);  // SALM changed some pixels of every image
  EXPECT_LE(s["psnr_min"].get<double>(), s["psnr_mean"].get<double>());
  EXPECT_GT(s["psnr_min"].get<double>(), 20.0);  // at most 8/255 on 10% of the pixels
  EXPECT_EQ(s["psnr_cap"].get<double>(), eval::kPsnrCap);
  EXPECT_GT(s["l0_density_mean"].get<double>(), 0.0);
  EXPECT_LE(s["l0_density_max"].get<double>(), 26.0 / 256.0 + 1e-12);  // at most the mask: ceil(10% of 256)
  EXPECT_GT(s["linf_max"].get<double>(), 0.0);
  EXPECT_LE(s["linf_max"].get<double>(), 8.0);  // the budget, 8/255
  EXPECT_LE(s["linf_mean"].get<double>(), s["linf_max"].get<double>());
}

}  // namespace

// ---- salm evaluate: the audit options ----------------------------------------------------------

TEST(Audit, EvaluateProtectedReportsSimilarityAndNoPreprocessing) {
  test::TempDir dir;
  auto j = evaluate(dir, true, {});
  ASSERT_FALSE(j.is_null());
  EXPECT_EQ(j["preprocessing"], "none");
  EXPECT_TRUE(j["preprocessing_steps"].empty());
  EXPECT_EQ(j["protected_fraction"], 1.0);
  EXPECT_EQ(j["protected_rows"], 48);
  expect_similarity_block(j["similarity"]);
  // clean training has no similarity block and nothing protected
  auto c = evaluate(dir, false, {"--crop", "0.75"});
  EXPECT_FALSE(c.contains("similarity"));
  EXPECT_EQ(c["protected_fraction"], 0.0);
  EXPECT_EQ(c["preprocessing"], "crop 0.75 (train, test)");
  EXPECT_EQ(c["preprocessing_steps"][0]["applies_to"], (nlohmann::json{"train", "test"}));
}

TEST(Audit, EvaluateFilters) {
  test::TempDir dir;
  for (const char* f : {"mean", "median", "gaussian"}) {
    auto j = evaluate(dir, true, {"--filter", f});
    ASSERT_FALSE(j.is_null()) << f;
    EXPECT_EQ(j["preprocessing"], std::string("filter ") + f + " 3x3 (train)");
    ASSERT_EQ(j["preprocessing_steps"].size(), 1u);
    EXPECT_EQ(j["preprocessing_steps"][0]["step"], "filter");
    EXPECT_EQ(j["preprocessing_steps"][0]["applies_to"], (nlohmann::json{"train"}));
    EXPECT_EQ(j["protected_fraction"], 1.0);
    EXPECT_GE(j["clean_test_accuracy"].get<double>(), 0.0);
  }
}

TEST(Audit, EvaluateCropGrayscaleJpeg) {
  test::TempDir dir;
  auto j = evaluate(dir, true, {"--crop", "0.8"});
  EXPECT_EQ(j["preprocessing"], "crop 0.8 (train, test)");
  j = evaluate(dir, true, {"--grayscale"});
  EXPECT_EQ(j["preprocessing"], "grayscale BT.601 luma (train, test)");
  j = evaluate(dir, true, {"--jpeg", "30"});
  EXPECT_EQ(j["preprocessing"], "jpeg quality 30 (train)");
  // all at once, in the documented order
  j = evaluate(dir, true, {"--grayscale", "--jpeg", "75", "--crop", "0.9", "--filter", "median"});
  EXPECT_EQ(j["preprocessing"], "filter median 3x3 (train); jpeg quality 75 (train); crop 0.9 (train, test); grayscale BT.601 luma (train, test)");
  EXPECT_EQ(j["preprocessing_steps"].size(), 4u);
  expect_similarity_block(j["similarity"]);  // measured on the images as published, before preprocessing
}

TEST(Audit, EvaluateFractionAndClasses) {
  test::TempDir dir;
  auto j = evaluate(dir, true, {"--fraction", "50"});
  EXPECT_EQ(j["protected_rows"], 24);
  EXPECT_EQ(j["protected_fraction"], 0.5);
  EXPECT_EQ(j["fraction"], 50.0);
  // 3 balanced classes: classes 0 and 2 are 32 of the 48 rows
  j = evaluate(dir, true, {"--classes", "2,0"});
  EXPECT_EQ(j["protected_rows"], 32);
  EXPECT_EQ(j["classes"], (nlohmann::json{0, 2}));
  // both: the selected fraction's rows of those classes; the same rows on 2 ranks
  auto one = evaluate(dir, true, {"--fraction", "50", "--classes", "1"});
  auto two = evaluate(dir, true, {"--fraction", "50", "--classes", "1"}, 2);
  ASSERT_FALSE(two.is_null());
  EXPECT_GT(one["protected_rows"].get<int>(), 0);
  EXPECT_LT(one["protected_rows"].get<int>(), 16);
  EXPECT_EQ(one["protected_rows"], two["protected_rows"]);
  EXPECT_EQ(two["ranks"], 2);
  for (const char* k : {"ssim_mean", "ssim_min", "psnr_mean", "psnr_min", "l0_density_mean", "linf_mean", "linf_max"})
    EXPECT_NEAR(one["similarity"][k].get<double>(), two["similarity"][k].get<double>(), 1e-9) << k;
}

namespace {

/// Each case: exit 2, one error line that names the option, nothing written. Bad values are refused
/// before the noise file is opened, so none is made for these.
void expect_refused(const std::vector<std::pair<std::vector<std::string>, std::string>>& cases) {
  test::TempDir dir;
  for (const auto& [extra, needle] : cases) {
    std::vector<std::string> a{"evaluate", "--data", tiny().data, "--noise", tiny().unused_noise, "--report", dir.file("r.json")};
    a.insert(a.end(), kVictim.begin(), kVictim.end());
    a.insert(a.end(), extra.begin(), extra.end());
    auto r = run_salm(a);
    EXPECT_EQ(r.exit_code, 2) << extra[0] << ": " << r.err;
    auto lines = test::error_lines(r.err);
    ASSERT_EQ(lines.size(), 1u) << r.err;
    EXPECT_NE(lines[0].find(needle), std::string::npos) << lines[0];
  }
  EXPECT_TRUE(test::list_dir(dir.path()).empty());
}

}  // namespace

TEST(Audit, EvaluateBadPreprocessingValuesAreRefused) {
  expect_refused({{{"--crop", "0"}, "--crop"},
                  {{"--crop", "1.5"}, "--crop"},
                  {{"--jpeg", "0"}, "--jpeg"},
                  {{"--jpeg", "101"}, "--jpeg"},
                  {{"--filter", "box"}, "--filter"}});
}

TEST(Audit, EvaluateBadFractionAndClassesAreRefused) {
  expect_refused({{{"--fraction", "0"}, "--fraction"},
                  {{"--fraction", "100.5"}, "--fraction"},
                  {{"--classes", "a"}, "--classes"},
                  {{"--classes", "3"}, "--classes"},
                  {{"--classes=-1"}, "--classes"}});
}

TEST(Audit, EvaluateFractionAndClassesNeedNoise) {
  // --fraction and --classes choose protected rows: without --noise they mean nothing
  test::TempDir dir;
  for (const std::vector<std::string>& extra : {std::vector<std::string>{"--fraction", "50"}, {"--classes", "0"}}) {
    std::vector<std::string> a{"evaluate", "--data", tiny().data, "--report", dir.file("r.json")};
    a.insert(a.end(), extra.begin(), extra.end());
    auto r = run_salm(a);
    EXPECT_EQ(r.exit_code, 2) << r.err;
    auto lines = test::error_lines(r.err);
    ASSERT_EQ(lines.size(), 1u) << r.err;
    EXPECT_NE(lines[0].find(extra[0]), std::string::npos) << lines[0];
    EXPECT_NE(lines[0].find("--noise"), std::string::npos) << lines[0];
  }
  EXPECT_TRUE(test::list_dir(dir.path()).empty());
}

// ---- salm evaluate --suite ---------------------------------------------------------------------

TEST(Audit, SuiteWritesJsonAndMarkdown) {
  test::TempDir dir;
  std::vector<std::string> a{"evaluate", "--data", tiny().data, "--noise", tiny().noise(), "--suite", dir.file("audit.json")};
  a.insert(a.end(), kVictim.begin(), kVictim.end());
  auto r = run_salm(a);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::ifstream in(dir.file("audit.json"));
  auto j = nlohmann::json::parse(in);
  std::vector<std::string> names;
  for (const auto& row : j["rows"]) names.push_back(row["name"]);
  EXPECT_EQ(names, (std::vector<std::string>{"clean", "protected", "filter mean", "filter median", "filter gaussian",
                                             "crop 0.8", "grayscale", "jpeg 75", "jpeg 30", "fraction 50", "classes 0"}));
  const auto& rows = j["rows"];
  EXPECT_EQ(rows[0]["trained_on"], "clean");
  EXPECT_EQ(rows[0]["protected_fraction"], 0.0);
  EXPECT_EQ(rows[0]["difference_to_clean"], 0.0);
  EXPECT_EQ(rows[1]["protected_fraction"], 1.0);
  EXPECT_EQ(rows[1]["preprocessing"], "none");
  EXPECT_EQ(rows[2]["preprocessing"], "filter mean 3x3 (train)");
  EXPECT_EQ(rows[5]["preprocessing"], "crop 0.8 (train, test)");
  EXPECT_EQ(rows[8]["preprocessing"], "jpeg quality 30 (train)");
  EXPECT_EQ(rows[9]["protected_fraction"], 0.5);
  EXPECT_NEAR(rows[10]["protected_fraction"].get<double>(), 16.0 / 48, 1e-12);
  const double clean = rows[0]["clean_test_accuracy"];
  for (const auto& row : rows) {
    EXPECT_NEAR(row["difference_to_clean"].get<double>(), row["clean_test_accuracy"].get<double>() - clean, 1e-12);
    EXPECT_GE(row["best_test_accuracy"].get<double>(), row["clean_test_accuracy"].get<double>());
  }
  expect_similarity_block(j["similarity"]);
  EXPECT_EQ(j["model"], "small-cnn");
  auto md = test::read_file(dir.file("audit.md"));
  EXPECT_NE(md.find("| configuration | preprocessing | protected rows | clean test acc. | best epoch | vs clean (points) |"),
            std::string::npos) << md;
  EXPECT_NE(md.find("| clean | none | 0.0% |"), std::string::npos) << md;
  EXPECT_NE(md.find("| fraction 50 | none | 50.0% |"), std::string::npos) << md;
  EXPECT_NE(md.find("SSIM mean"), std::string::npos) << md;
  std::istringstream lines(md);
  int table_lines = 0;
  for (std::string line; std::getline(lines, line);) table_lines += line.rfind("| ", 0) == 0 || line.rfind("|---", 0) == 0;
  EXPECT_EQ(table_lines, 13) << md;  // header, rule, 11 rows
  EXPECT_EQ(test::list_dir(dir.path()).size(), 2u);
  // without --overwrite an existing table is kept
  r = run_salm(a);
  EXPECT_EQ(r.exit_code, 2) << r.err;
}

TEST(Audit, SuiteOnGreyDataHasNoGrayscaleRow) {
  test::TempDir dir;
  ASSERT_EQ(run_salm({"synth", "--out", dir.file("grey.h5"), "--classes", "4", "--train", "32", "--val", "0", "--test", "16",
                      "--size", "16", "--channels", "1"}).exit_code, 0);
  auto r = run_salm({"protect", "--data", dir.file("grey.h5"), "--out", dir.file("n.h5"), "--model", "small-cnn", "--pgd-steps",
                     "2", "--train-steps", "1", "--max-iters", "1", "--batch-size", "16", "--stop-acc", "0"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> a{"evaluate", "--data", dir.file("grey.h5"), "--noise", dir.file("n.h5"), "--suite", dir.file("a.json")};
  a.insert(a.end(), kVictim.begin(), kVictim.end());
  r = run_salm(a);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::ifstream in(dir.file("a.json"));
  auto j = nlohmann::json::parse(in);
  std::vector<std::string> names;
  for (const auto& row : j["rows"]) names.push_back(row["name"]);
  EXPECT_EQ(names, (std::vector<std::string>{"clean", "protected", "filter mean", "filter median", "filter gaussian",
                                             "crop 0.8", "jpeg 75", "jpeg 30", "fraction 50", "classes 0,1"}));
  EXPECT_EQ(j["rows"].back()["protected_fraction"], 0.5);  // 2 of 4 balanced classes
  EXPECT_TRUE(test::file_exists(dir.file("a.md")));
}

TEST(Audit, SuiteRefusesSingleAuditOptionsAndNeedsNoise) {
  test::TempDir dir;
  // (one of the image options, one of the row options, --grayscale (a switch) and --report)
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases{
      {{"--jpeg", "75"}, "--jpeg"}, {{"--grayscale"}, "--grayscale"}, {{"--classes", "0"}, "--classes"},
      {{"--report", dir.file("r.json")}, "--report"}};
  for (const auto& [extra, needle] : cases) {
    std::vector<std::string> a{"evaluate", "--data", tiny().data, "--noise", tiny().unused_noise, "--suite", dir.file("s.json")};
    a.insert(a.end(), extra.begin(), extra.end());
    auto r = run_salm(a);
    EXPECT_EQ(r.exit_code, 2) << r.err;
    auto lines = test::error_lines(r.err);
    ASSERT_EQ(lines.size(), 1u) << r.err;
    EXPECT_NE(lines[0].find("--suite"), std::string::npos) << lines[0];
    EXPECT_NE(lines[0].find(needle), std::string::npos) << lines[0];
  }
  auto r = run_salm({"evaluate", "--data", tiny().data, "--suite", dir.file("s.json")});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--noise"), std::string::npos) << r.err;
  EXPECT_TRUE(test::list_dir(dir.path()).empty());
}

// ---- salm inspect --similarity -----------------------------------------------------------------

TEST(Audit, InspectSimilarityOneAndTwoRanksAgree) {
  auto one = run_salm({"inspect", tiny().noise(), "--similarity", "--json"});
  ASSERT_EQ(one.exit_code, 0) << one.err;
  auto two = test::run_salm_mpi(2, {"inspect", tiny().noise(), "--similarity", "--json"});
  ASSERT_EQ(two.exit_code, 0) << two.err;
  auto j1 = nlohmann::json::parse(one.out)["similarity"], j2 = nlohmann::json::parse(two.out)["similarity"];
  expect_similarity_block(j1);
  EXPECT_EQ(j1["data"], tiny().data);  // from the noise file's source attribute
  for (const auto& [k, v] : j1.items())
    if (v.is_number()) EXPECT_NEAR(v.get<double>(), j2[k].get<double>(), 1e-9) << k;
  // --data names the clean data explicitly; the text form prints the block
  auto text = run_salm({"inspect", tiny().noise(), "--similarity", "--data", tiny().data});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("similarity to the clean rows of " + tiny().data + ": SSIM mean"), std::string::npos) << text.out;
  // the evaluate report's block is the same measurement
  test::TempDir dir;
  auto rep = evaluate(dir, true, {});
  EXPECT_NEAR(rep["similarity"]["ssim_mean"].get<double>(), j1["ssim_mean"].get<double>(), 1e-12);
}

TEST(Audit, InspectSimilarityRefusesOtherData) {
  test::TempDir dir;
  ASSERT_EQ(run_salm({"synth", "--out", dir.file("other.h5"), "--classes", "3", "--train", "48", "--val", "0", "--test", "24",
                      "--size", "16", "--seed", "7"}).exit_code, 0);
  auto r = run_salm({"inspect", tiny().noise(), "--similarity", "--data", dir.file("other.h5")});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  ASSERT_EQ(test::error_lines(r.err).size(), 1u) << r.err;
  EXPECT_NE(r.err.find("labels differ"), std::string::npos) << r.err;
  ASSERT_EQ(run_salm({"synth", "--out", dir.file("big.h5"), "--classes", "3", "--train", "48", "--val", "0", "--test", "24",
                      "--size", "20"}).exit_code, 0);
  r = run_salm({"inspect", tiny().noise(), "--similarity", "--data", dir.file("big.h5")});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("shape"), std::string::npos) << r.err;
  r = run_salm({"inspect", tiny().data, "--similarity"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("--similarity"), std::string::npos) << r.err;
}

// ---- salm inspect --shortcut -------------------------------------------------------------------

TEST(Audit, InspectShortcutProbesTheNoiseAloneBesideChance) {
  auto j = run_salm({"inspect", tiny().noise(), "--shortcut", "--json"});
  ASSERT_EQ(j.exit_code, 0) << j.err;
  auto s = nlohmann::json::parse(j.out)["shortcut"];
  EXPECT_EQ(s["probe"], "linear");
  EXPECT_EQ(s["fit_rows"].get<int>() + s["holdout_rows"].get<int>(), 48);
  for (const char* k : {"holdout_accuracy", "fit_accuracy", "chance"}) {
    EXPECT_GE(s[k].get<double>(), 0.0) << k;
    EXPECT_LE(s[k].get<double>(), 1.0) << k;
  }
  EXPECT_NEAR(s["chance"].get<double>(), 1.0 / 3, 0.2);  // 3 balanced classes
  auto text = run_salm({"inspect", tiny().noise(), "--shortcut"});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("shortcut: a linear probe on delta alone"), std::string::npos) << text.out;
  test::expect_one_error(run_salm({"inspect", tiny().data, "--shortcut"}), "--shortcut needs a noise file");
}
