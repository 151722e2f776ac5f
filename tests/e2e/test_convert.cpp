// salm convert of IDX directories (the salm binary): --max-rows and --val-from-train.
#include <gtest/gtest.h>

#include "salm/data/reader.hpp"
#include "idx_writer.hpp"
#include "test_support.hpp"

using namespace salm;

TEST(Idx, ConvertKeepsTheFirstRowsAskedFor) {
  test::TempDir dir, idx;
  test::write_idx_dataset(idx.path(), 40, 20, 10);
  std::string out = dir.file("f.h5");
  auto r = test::run_salm({"convert", "--in", idx.path(), "--out", out, "--max-rows", "train=25", "--max-rows", "15",
                           "--name", "fashion"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto h5 = data::open_dataset(out), src = data::open_dataset(idx.path());
  EXPECT_EQ(h5->info().name, "fashion");
  EXPECT_EQ(h5->shape("train").rows, 15);  // the smaller of the two limits that apply
  EXPECT_EQ(h5->shape("test").rows, 15);
  EXPECT_EQ(h5->read_all("train").images, src->read("train", 0, 15).images);
  EXPECT_EQ(h5->read_all("test").labels, src->read("test", 0, 15).labels);

  std::string out2 = dir.file("g.h5");
  for (const char* bad : {"val=3", "0", "train=x", "train=5z"}) {
    auto e = test::run_salm({"convert", "--in", idx.path(), "--out", out2, "--max-rows", bad});
    EXPECT_EQ(e.exit_code, 2) << bad;
    auto lines = test::error_lines(e.err);
    ASSERT_EQ(lines.size(), 1u) << e.err;
    EXPECT_NE(lines[0].find("--max-rows"), std::string::npos) << lines[0];
    EXPECT_FALSE(test::file_exists(out2));
  }
}

TEST(Idx, ConvertCarvesAValSplitFromTheEndOfTrain) {
  test::TempDir dir, idx;
  test::write_idx_dataset(idx.path(), 40, 20, 10);
  std::string out = dir.file("v.h5");
  auto r = test::run_salm({"convert", "--in", idx.path(), "--out", out, "--max-rows", "train=30", "--val-from-train", "8"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto h5 = data::open_dataset(out), src = data::open_dataset(idx.path());
  EXPECT_EQ(h5->shape("train").rows, 22);  // the first 30 rows, less the last 8
  EXPECT_EQ(h5->shape("val").rows, 8);
  EXPECT_EQ(h5->shape("test").rows, 20);
  EXPECT_EQ(h5->read_all("train").images, src->read("train", 0, 22).images);
  auto val = h5->read_all("val"), moved = src->read("train", 22, 8);
  EXPECT_EQ(val.images, moved.images);
  EXPECT_EQ(val.labels, moved.labels);
  // 2 ranks write the same file (each its own rows of every split)
  std::string out2 = dir.file("v2.h5");
  auto r2 = test::run_salm_mpi(2, {"convert", "--in", idx.path(), "--out", out2, "--max-rows", "train=30", "--val-from-train", "8"});
  ASSERT_EQ(r2.exit_code, 0) << r2.err;
  EXPECT_EQ(data::open_dataset(out2)->read_all("val").images, val.images);

  // no rows left for train, a count below 1, and an input that already has a val split: refused
  std::string bad = dir.file("bad.h5");
  test::expect_one_error(test::run_salm({"convert", "--in", idx.path(), "--out", bad, "--max-rows", "train=30", "--val-from-train", "30"}),
                         "--val-from-train");
  test::expect_one_error(test::run_salm({"convert", "--in", idx.path(), "--out", bad, "--val-from-train", "0"}), "--val-from-train");
  test::expect_one_error(test::run_salm({"convert", "--in", out, "--out", bad, "--val-from-train", "4"}), "already has a val split");
  EXPECT_FALSE(test::file_exists(bad));
}
