// protect --target-val-acc, the closed loop: a fresh victim trained on the protected rows and
// tested on the clean val split judges the run; the noise file records the curve and the
// verdict; export releases only what passed, unless told otherwise.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "salm/io/h5.hpp"
#include "test_support.hpp"

using namespace salm;

namespace {
struct Data {
  test::TempDir dir;
  std::string data = dir.file("d.h5");
  Data() {
    EXPECT_EQ(test::run_salm({"synth", "--out", data, "--classes", "3", "--train", "48", "--val", "12", "--test", "6",
                              "--size", "16"})
                  .exit_code,
              0);
  }
  std::vector<std::string> protect(const std::string& out, const std::string& target, int iters) const {
    return {"protect", "--data", data, "--out", out, "--model", "small-cnn", "--max-iters", std::to_string(iters),
            "--train-steps", "2", "--pgd-steps", "2", "--batch-size", "16", "--target-val-acc", target,
            "--check-epochs", "1", "--check-model", "small-cnn"};
  }
};

std::vector<std::pair<int, double>> checks_of(const std::string& noise) {
  auto s = io::H5File::open_read(noise).attr_string("/", "val_checks");
  return s ? nlohmann::json::parse(*s).get<std::vector<std::pair<int, double>>>() : std::vector<std::pair<int, double>>{};
}
}  // namespace

TEST(ClosedLoop, StopsAtTheFirstCheckThatMeetsTheTargetAndExportReleasesIt) {
  Data d;
  std::string out = d.dir.file("n.h5");
  auto r = test::run_salm(d.protect(out, "1", 3));  // any victim is at or below 100%
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto f = io::H5File::open_read(out);
  EXPECT_EQ(f.attr_int("/", "iterations"), 1) << "the loop goes on after the target was met";
  EXPECT_EQ(f.attr_string("/", "protection_check"), "passed");
  auto checks = checks_of(out);
  ASSERT_EQ(checks.size(), 1u);
  EXPECT_EQ(checks[0].first, 1);
  EXPECT_GE(checks[0].second, 0.0);
  EXPECT_LE(checks[0].second, 1.0);
  EXPECT_NE(r.err.find("val check: a fresh victim"), std::string::npos) << r.err;
  auto e = test::run_salm({"export", out, "--out", d.dir.file("release.npz")});
  EXPECT_EQ(e.exit_code, 0) << e.err;
}

TEST(ClosedLoop, NotMetEndsWithExitFourAndExportRefusesUnlessAllowed) {
  Data d;
  std::string out = d.dir.file("n.h5");
  auto r = test::run_salm(d.protect(out, "0.0001", 2));  // no victim is at 0.01% on 12 val rows
  ASSERT_EQ(r.exit_code, 4) << r.err;
  EXPECT_NE(r.err.find("is NOT protected to the target"), std::string::npos) << r.err;
  ASSERT_TRUE(test::file_exists(out)) << "the noise file is still written (the owner may inspect it)";
  auto f = io::H5File::open_read(out);
  EXPECT_EQ(f.attr_string("/", "protection_check"), "failed");
  EXPECT_EQ(checks_of(out).size(), 2u) << "a check after every iteration (--check-every 1)";
  EXPECT_EQ(f.attr_int("/", "iterations"), 2);

  std::string rel = d.dir.file("release.npz");
  auto e = test::run_salm({"export", out, "--out", rel});
  test::expect_one_error(e, "protection check failed");
  EXPECT_FALSE(test::file_exists(rel));
  auto forced = test::run_salm({"export", out, "--out", rel, "--allow-unchecked"});
  EXPECT_EQ(forced.exit_code, 0) << forced.err;
  EXPECT_NE(forced.err.find("releasing it anyway"), std::string::npos) << forced.err;
  EXPECT_TRUE(test::file_exists(rel));
}

TEST(ClosedLoop, ANoiseFileNeverCheckedIsNotReleasedByDefault) {
  Data d;
  std::string out = d.dir.file("n.h5");
  ASSERT_EQ(test::run_salm({"protect", "--data", d.data, "--out", out, "--model", "small-cnn", "--max-iters", "1",
                            "--train-steps", "1", "--pgd-steps", "1", "--no-checkpoint"})
                .exit_code,
            0);
  EXPECT_EQ(io::H5File::open_read(out).attr_string("/", "protection_check"), "not run");
  test::expect_one_error(test::run_salm({"export", out, "--out", d.dir.file("r.npz")}), "never checked");
}

TEST(ClosedLoop, ResumeAfterAStopKeepsTheCurveAndTheNoiseExactly) {
  Data d;
  std::string ref = d.dir.file("ref.h5"), out = d.dir.file("n.h5");
  auto a = d.protect(ref, "0.0001", 3);
  a.push_back("--no-checkpoint");
  ASSERT_EQ(test::run_salm(a).exit_code, 4);
  // Stop in iteration 2's noise stage (after one check), then resume.
  auto stopped = test::run_salm(d.protect(out, "0.0001", 3), {"SALM_STOP_AFTER_STEPS=8"});
  ASSERT_EQ(stopped.exit_code, 3) << stopped.err;
  auto resumed = test::run_salm(d.protect(out, "0.0001", 3));
  ASSERT_EQ(resumed.exit_code, 4) << resumed.err;
  EXPECT_NE(resumed.err.find("resuming from checkpoint"), std::string::npos) << resumed.err;
  auto x = io::H5File::open_read(ref), y = io::H5File::open_read(out);
  EXPECT_EQ(x.read_all<float>("/delta"), y.read_all<float>("/delta"));
  EXPECT_EQ(checks_of(ref), checks_of(out));
}

TEST(ClosedLoop, BadRequestsAreRefusedBeforeAnyWork) {
  Data d;
  test::TempDir dir;
  std::string noval = dir.file("noval.h5");
  ASSERT_EQ(test::run_salm({"synth", "--out", noval, "--classes", "3", "--train", "24", "--val", "0", "--test", "6",
                            "--size", "16"})
                .exit_code,
            0);
  auto r = test::run_salm({"protect", "--data", noval, "--out", dir.file("n.h5"), "--target-val-acc", "0.5"});
  test::expect_one_error(r, "no val split");
  test::expect_one_error(test::run_salm({"protect", "--data", d.data, "--out", dir.file("n.h5"), "--method", "sp",
                                         "--target-val-acc", "0.5"}),
                         "--target-val-acc");
  test::expect_one_error(test::run_salm({"protect", "--data", d.data, "--out", dir.file("n.h5"), "--target-val-acc",
                                         "1.5"}),
                         "target-val-acc");
  EXPECT_FALSE(test::file_exists(dir.file("n.h5")));
}

TEST(ClosedLoop, TheJudgeCanTrainWithTheVictimsAugmentation) {
  Data d;
  std::string out = d.dir.file("n.h5");
  auto args = d.protect(out, "1", 2);
  args.insert(args.end(), {"--check-augment", "flip-crop"});
  auto r = test::run_salm(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto f = io::H5File::open_read(out);
  EXPECT_EQ(f.attr_string("/", "check_augment"), "flip-crop");
  EXPECT_EQ(f.attr_string("/", "protection_check"), "passed");
  EXPECT_EQ(checks_of(out).size(), 1u);
  auto bad = d.protect(d.dir.file("m.h5"), "1", 2);
  bad.insert(bad.end(), {"--check-augment", "rotate"});
  auto b = test::run_salm(bad);
  EXPECT_EQ(b.exit_code, 2);
  EXPECT_NE(b.err.find("check-augment"), std::string::npos) << b.err;
}
