// Bad input, end to end (the "Bad input" list): an empty file, random bytes, a truncated
// zip, an npy header that lies about the shape or dtype, float or int16 images, labels of the
// wrong length or out of range, a missing split, images without labels, an HDF5 file without the
// expected datasets, a path that does not exist, an output directory that does not exist or is
// not writable, an existing output. Each must end the run with exit code 2 and exactly one
// "salm: error:" line naming the file and the problem, and leave no output file behind.
// Every case goes through the salm binary (convert, and inspect for input problems) and, for
// input problems, through the library (open_dataset + read throws salm::InputError).
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <random>
#include <tuple>

#include "salm/core/error.hpp"
#include "salm/data/reader.hpp"
#include "salm/io/h5.hpp"
#include "idx_writer.hpp"
#include "npz_writer.hpp"
#include "test_support.hpp"

using namespace salm;
using test::run_salm;

namespace {

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

/// Whether `text` contains one of `words` (case-insensitive).
bool mentions_any(const std::string& text, const std::vector<std::string>& words) {
  std::string t = lower(text);
  return std::any_of(words.begin(), words.end(), [&](const std::string& w) { return t.find(lower(w)) != std::string::npos; });
}

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : " ") + x;
  return s;
}

/// Files in `dir` (none expected after a failed run: no output, no .partial, no probe).
::testing::AssertionResult dir_is_empty(const std::string& dir) {
  auto names = test::list_dir(dir);
  if (names.empty()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << dir << " holds: " << joined(names);
}

/// Runs salm with `args` and checks the bad-input contract: exit code 2, exactly one error line,
/// which names `path` and mentions one of `words`. Returns the error line ("" if none).
std::string expect_refused(const std::vector<std::string>& args, const std::string& path,
                           const std::vector<std::string>& words) {
  auto r = run_salm(args);
  SCOPED_TRACE("salm " + joined(args));
  EXPECT_EQ(r.exit_code, 2) << "stderr:\n" << r.err;
  auto lines = test::error_lines(r.err);
  EXPECT_EQ(lines.size(), 1u) << "stderr:\n" << r.err;
  if (lines.empty()) return "";
  EXPECT_NE(lines[0].find(path), std::string::npos) << "the error line does not name " << path << ": " << lines[0];
  EXPECT_TRUE(mentions_any(lines[0], words))
      << "the error line mentions none of [" << joined(words) << "]: " << lines[0];
  return lines[0];
}

/// Opening `path` and reading every split through the library throws salm::InputError naming
/// `path` and mentioning one of `words` (anything else, or no error, is a failure).
::testing::AssertionResult library_refuses(const std::string& path, const data::OpenOptions& options,
                                           const std::vector<std::string>& words) {
  try {
    auto reader = data::open_dataset(path, options);
    for (const auto& split : reader->splits()) reader->read_all(split);
  } catch (const InputError& e) {
    std::string what = e.what();
    if (what.find(path) == std::string::npos)
      return ::testing::AssertionFailure() << "InputError does not name " << path << ": " << what;
    if (e.path().find(path) != 0)
      return ::testing::AssertionFailure() << "InputError::path() is '" << e.path() << "', not " << path;
    if (!mentions_any(what, words))
      return ::testing::AssertionFailure() << "InputError mentions none of [" << joined(words) << "]: " << what;
    return ::testing::AssertionSuccess() << what;
  } catch (const std::exception& e) {
    return ::testing::AssertionFailure() << "threw a non-InputError: " << e.what();
  }
  return ::testing::AssertionFailure() << "opened and read " << path << " without an error";
}

/// A bad input file: `salm convert` (into an empty directory) and `salm inspect` both refuse it,
/// the output directory stays empty, and the library throws InputError. Returns convert's line.
std::string expect_bad_input(const std::string& in, const std::vector<std::string>& words,
                             const std::vector<std::string>& convert_extra = {},
                             const data::OpenOptions& options = {}) {
  SCOPED_TRACE("input " + in);
  test::TempDir out;
  std::string out_file = out.file("out.h5");
  std::vector<std::string> args{"convert", "--in", in, "--out", out_file};
  args.insert(args.end(), convert_extra.begin(), convert_extra.end());
  std::string line = expect_refused(args, in, words);
  EXPECT_TRUE(dir_is_empty(out.path()));
  if (convert_extra.empty()) expect_refused({"inspect", in}, in, words);
  EXPECT_TRUE(library_refuses(in, options, words));
  return line;
}

std::string random_bytes(std::size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(gen() & 0xff);
  return s;
}

test::NpyArray labels_of(const std::vector<std::int64_t>& v) { return test::i64_labels(v, 1); }

std::vector<std::int64_t> cycle_labels(std::int64_t n, std::int64_t classes) {
  std::vector<std::int64_t> v(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = i % classes;
  return v;
}

/// The member of a valid set (medmnist_members: 20 train, 6 val, 10 test, 4 classes, 8x8 grey).
test::NpyArray& member(test::NpzMembers& m, const std::string& key) {
  for (auto& [name, arr] : m)
    if (name == key) return arr;
  throw std::runtime_error("no member " + key);
}

void drop(test::NpzMembers& m, const std::string& key) {
  m.erase(std::remove_if(m.begin(), m.end(), [&](const auto& p) { return p.first == key; }), m.end());
}

/// A small salm dataset .h5 (train 20 + test 20 rows, 8x8 grey, 4 classes) written directly
/// through H5File, valid unless a field says otherwise.
struct H5Spec {
  bool float_images = false;
  bool with_labels = true;
  std::int64_t rows = 20;
  std::int64_t label_rows = 20;
  std::int64_t bad_label = -1;  ///< >= 0: train label 3 gets this value
  bool with_num_classes = true;
};

void write_h5(const std::string& path, const H5Spec& s) {
  auto f = io::H5File::create_exclusive(path, MPI_COMM_NULL);
  for (const std::string split : {"train", "test"}) {
    f.create_group("/" + split);
    std::string ig = "/" + split + "/images", lg = "/" + split + "/labels";
    std::vector<std::int64_t> dims{s.rows, 8, 8, 1};
    if (s.float_images) {
      f.create_dataset<float>(ig, dims);
      std::vector<float> px(static_cast<std::size_t>(s.rows * 64), 0.5f);
      f.write_rows(ig, 0, s.rows, px.data());
    } else {
      f.create_dataset<std::uint8_t>(ig, dims);
      std::vector<std::uint8_t> px(static_cast<std::size_t>(s.rows * 64));
      for (std::size_t i = 0; i < px.size(); ++i) px[i] = static_cast<std::uint8_t>(i % 251);
      f.write_rows(ig, 0, s.rows, px.data());
    }
    if (s.with_labels) {
      f.create_dataset<std::int64_t>(lg, {s.label_rows});
      auto v = cycle_labels(s.label_rows, 4);
      if (s.bad_label >= 0 && split == "train") v[3] = s.bad_label;
      f.write_rows(lg, 0, s.label_rows, v.data());
    }
  }
  f.set_attr("/", "name", std::string("crafted"));
  if (s.with_num_classes) f.set_attr("/", "num_classes", std::int64_t{4});
  f.set_attr("/", "task", std::string("multi-class"));
  f.set_attr("/", "source", std::string("test_bad_input"));
  f.close();
}

const std::vector<std::string> kNoSuchFile{"no such file", "does not exist", "not found"};

}  // namespace

// --- controls: the crafted inputs differ from valid ones only by the defect under test ---------

TEST(BadInput, ControlCraftedValidInputsConvert) {
  test::TempDir dir;
  for (bool deflate : {false, true}) {
    std::string in = dir.file(deflate ? "deflate.npz" : "stored.npz");
    test::write_npz(in, test::medmnist_members(), deflate);
    std::string out = dir.file(deflate ? "deflate.h5" : "stored.h5");
    auto r = run_salm({"convert", "--in", in, "--out", out, "--num-classes", "4"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(test::error_lines(r.err).empty()) << r.err;
    EXPECT_TRUE(test::file_exists(out));
    EXPECT_FALSE(test::file_exists(out + ".partial"));
    auto back = data::open_dataset(out);
    EXPECT_EQ(back->shape("train").rows, 20);
    EXPECT_EQ(back->info().num_classes, 4);
    EXPECT_EQ(run_salm({"inspect", in}).exit_code, 0);
  }
  std::string h5 = dir.file("crafted.h5");
  write_h5(h5, H5Spec{});
  auto r = run_salm({"inspect", h5});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = run_salm({"convert", "--in", h5, "--out", dir.file("crafted-copy.h5")});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NO_THROW(data::open_dataset(dir.file("crafted-copy.h5"))->read_all("train"));
}

TEST(BadInput, ControlFixtureWithExtraStringKeyConverts) {
  std::string in = test::fixture("fashion_gray_deflate.npz");
  if (in.empty() || !test::file_exists(in)) GTEST_SKIP() << "../shared/fixtures is absent";
  test::TempDir dir;
  std::string out = dir.file("fashion.h5");
  auto r = run_salm({"convert", "--in", in, "--out", out});
  ASSERT_EQ(r.exit_code, 0) << r.err;  // the extra unicode key `class_names` is ignored
  EXPECT_TRUE(test::error_lines(r.err).empty()) << r.err;
  EXPECT_EQ(test::list_dir(dir.path()), std::vector<std::string>{"fashion.h5"});
  auto back = data::open_dataset(out);
  EXPECT_EQ(back->splits(), (std::vector<std::string>{"train", "val", "test"}));
  EXPECT_EQ(back->info().num_classes, 10);
}

// --- unreadable or unrecognised files ------------------------------------------------------------

TEST(BadInput, EmptyFile) {
  test::TempDir dir;
  for (const char* name : {"empty.npz", "empty.h5"}) {
    std::string in = dir.file(name);
    test::write_file(in, "");
    expect_bad_input(in, {"empty"});
  }
}

TEST(BadInput, RandomBytes) {
  test::TempDir dir;
  std::string in = dir.file("random.npz");
  std::string bytes = random_bytes(4096, 7);
  bytes[0] = 'R';  // neither zip ("PK") nor HDF5 magic
  test::write_file(in, bytes);
  expect_bad_input(in, {"zip", "hdf5", "not a"});
}

TEST(BadInput, RandomBytesBehindAZipMagic) {
  test::TempDir dir;
  std::string in = dir.file("random.npz");
  test::write_file(in, "PK\x03\x04" + random_bytes(4096, 11));
  expect_bad_input(in, {"zip", "archive"});
}

TEST(BadInput, RandomBytesBehindAnHdf5Signature) {
  test::TempDir dir;
  std::string in = dir.file("random.h5");
  test::write_file(in, std::string("\x89HDF\r\n\x1a\n", 8) + random_bytes(4096, 13));
  expect_bad_input(in, {"hdf5"});
}

TEST(BadInput, TruncatedZip) {
  test::TempDir dir;
  std::string whole = dir.file("whole.npz");
  test::write_npz(whole, test::medmnist_members(), /*deflate=*/true);
  std::string bytes = test::read_file(whole);
  ASSERT_GT(bytes.size(), 200u);
  for (std::size_t keep : {bytes.size() / 2, bytes.size() - 1, std::size_t{40}}) {
    std::string in = dir.file("cut-" + std::to_string(keep) + ".npz");
    test::write_file(in, bytes.substr(0, keep));
    expect_bad_input(in, {"zip", "truncated", "archive"});
  }
}

TEST(BadInput, TruncatedHdf5) {
  test::TempDir dir;
  std::string whole = dir.file("whole.h5");
  write_h5(whole, H5Spec{});
  std::string bytes = test::read_file(whole);
  std::string in = dir.file("cut.h5");
  test::write_file(in, bytes.substr(0, bytes.size() / 2));
  expect_bad_input(in, {"hdf5", "truncated"});
}

TEST(BadInput, PathDoesNotExist) {
  test::TempDir dir;
  std::string in = dir.file("no-such-input.npz");
  expect_bad_input(in, kNoSuchFile);
  expect_refused({"inspect", dir.file("no-such.h5"), "--json"}, dir.file("no-such.h5"), kNoSuchFile);
  std::string in_missing_dir = dir.file("no/such/dir/input.npz");
  expect_bad_input(in_missing_dir, kNoSuchFile);
}

TEST(BadInput, InputIsADirectory) {
  test::TempDir dir;
  expect_bad_input(dir.path(), {"directory"});
}

// --- npy headers that lie ---------------------------------------------------------------------

TEST(BadInput, NpyHeaderLiesAboutTheShape) {
  test::TempDir dir;
  for (bool deflate : {false, true}) {
    auto m = test::medmnist_members();
    member(m, "train_images").shape = {30, 8, 8};  // the data holds 20 rows
    std::string in = dir.file(deflate ? "shape-deflate.npz" : "shape-stored.npz");
    test::write_npz(in, m, deflate);
    std::string line = expect_bad_input(in, {"shape", "header"});
    EXPECT_NE(line.find("train_images"), std::string::npos) << line;
  }
  // and fewer rows than the data holds
  auto m = test::medmnist_members();
  member(m, "test_images").shape = {5, 8, 8};
  std::string in = dir.file("shape-short.npz");
  test::write_npz(in, m, false);
  expect_bad_input(in, {"shape", "header"});
}

TEST(BadInput, NpyHeaderLiesAboutTheDtype) {
  test::TempDir dir;
  auto m = test::medmnist_members();
  member(m, "train_images").descr = "<f4";  // uint8-sized data
  std::string in = dir.file("dtype-images.npz");
  test::write_npz(in, m, false);
  expect_bad_input(in, {"dtype", "float32", "header"});

  auto m2 = test::medmnist_members();
  member(m2, "val_labels").descr = "<i4";  // int64-sized data
  std::string in2 = dir.file("dtype-labels.npz");
  test::write_npz(in2, m2, true);
  expect_bad_input(in2, {"dtype", "int32", "header"});
}

// --- wrong element types -----------------------------------------------------------------------

TEST(BadInput, Float32Images) {
  test::TempDir dir;
  auto m = test::medmnist_members();
  auto& img = member(m, "train_images");
  img.descr = "<f4";
  std::string data(img.data.size() * 4, '\0');
  for (std::size_t i = 0; i < img.data.size(); ++i) {
    float v = static_cast<float>(static_cast<unsigned char>(img.data[i])) / 255.0f;
    std::memcpy(&data[i * 4], &v, 4);
  }
  img.data = data;
  std::string in = dir.file("float-images.npz");
  test::write_npz(in, m, true);
  std::string line = expect_bad_input(in, {"uint8"});
  EXPECT_TRUE(mentions_any(line, {"float32", "dtype"})) << line;
}

TEST(BadInput, Int16Images) {
  test::TempDir dir;
  auto m = test::medmnist_members();
  auto& img = member(m, "test_images");
  img.descr = "<i2";
  std::string data(img.data.size() * 2, '\0');
  for (std::size_t i = 0; i < img.data.size(); ++i) data[i * 2] = img.data[i];
  img.data = data;
  std::string in = dir.file("int16-images.npz");
  test::write_npz(in, m, false);
  std::string line = expect_bad_input(in, {"uint8"});
  EXPECT_TRUE(mentions_any(line, {"int16", "dtype"})) << line;
}

TEST(BadInput, FloatLabels) {
  test::TempDir dir;
  auto m = test::medmnist_members();
  auto& lab = member(m, "train_labels");
  lab.descr = "<f8";  // same size as int64; the values are not integers
  std::vector<double> v(20, 1.5);
  std::memcpy(lab.data.data(), v.data(), lab.data.size());
  std::string in = dir.file("float-labels.npz");
  test::write_npz(in, m, false);
  expect_bad_input(in, {"integer", "dtype", "float64"});
}

// --- labels ------------------------------------------------------------------------------------

TEST(BadInput, LabelsOfTheWrongLength) {
  test::TempDir dir;
  for (std::int64_t n : {19, 21}) {
    auto m = test::medmnist_members();
    member(m, "train_labels") = labels_of(cycle_labels(n, 4));
    std::string in = dir.file("labels-" + std::to_string(n) + ".npz");
    test::write_npz(in, m, n == 19);
    std::string line = expect_bad_input(in, {"labels"});
    EXPECT_NE(line.find(std::to_string(n)), std::string::npos) << "names the label count: " << line;
  }
}

TEST(BadInput, LabelsOutOfRangeForNumClasses) {
  test::TempDir dir;
  auto m = test::medmnist_members();
  auto v = cycle_labels(10, 4);
  v[6] = 7;
  member(m, "test_labels") = labels_of(v);
  std::string in = dir.file("label7.npz");
  test::write_npz(in, m, false);
  data::OpenOptions four;
  four.num_classes = 4;
  expect_bad_input(in, {"labels", "outside", "range"}, {"--num-classes", "4"}, four);
  // Without --num-classes the classes are those of train (0..3): a test label 7 is a class that
  // never occurs in train, refused and named; --num-classes 8 says it is real.
  test::TempDir out;
  auto r = run_salm({"convert", "--in", in, "--out", out.file("no.h5")});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  auto lines = test::error_lines(r.err);
  ASSERT_EQ(lines.size(), 1u) << r.err;
  EXPECT_NE(lines[0].find("never occurs in train_labels"), std::string::npos) << lines[0];
  r = run_salm({"convert", "--in", in, "--out", out.file("ok.h5"), "--num-classes", "8"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST(BadInput, NegativeLabels) {
  test::TempDir dir;
  auto m = test::medmnist_members();
  auto v = cycle_labels(20, 4);
  v[11] = -1;
  member(m, "train_labels") = labels_of(v);
  std::string in = dir.file("negative.npz");
  test::write_npz(in, m, true);
  expect_bad_input(in, {"labels", "outside", "negative", "range"});
  data::OpenOptions four;
  four.num_classes = 4;
  expect_bad_input(in, {"labels", "outside", "negative", "range"}, {"--num-classes", "4"}, four);
}

TEST(BadInput, H5LabelsOutOfRange) {
  // Found only while rows are read, i.e. after convert has started writing: the .partial must go.
  test::TempDir dir;
  std::string in = dir.file("label9.h5");
  H5Spec s;
  s.bad_label = 9;
  write_h5(in, s);
  expect_bad_input(in, {"labels", "outside", "range"});
}

// --- missing parts -----------------------------------------------------------------------------

TEST(BadInput, MissingSplit) {
  test::TempDir dir;
  auto m = test::medmnist_members();
  drop(m, "train_images");
  drop(m, "train_labels");
  std::string in = dir.file("no-train.npz");
  test::write_npz(in, m, false);
  std::string line = expect_bad_input(in, {"missing split", "split"});
  EXPECT_NE(line.find("train"), std::string::npos) << line;
  // Without a test split (a protected release is train only) the file is read; evaluate, which
  // measures on the test split, names what is missing.
  m = test::medmnist_members();
  drop(m, "test_images");
  drop(m, "test_labels");
  in = dir.file("no-test.npz");
  test::write_npz(in, m, false);
  EXPECT_EQ(test::run_salm({"inspect", in}).exit_code, 0);
  auto r = test::run_salm({"evaluate", "--data", in, "--model", "small-cnn", "--epochs", "1"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  auto lines = test::error_lines(r.err);
  ASSERT_EQ(lines.size(), 1u) << r.err;
  EXPECT_NE(lines[0].find("missing split 'test'"), std::string::npos) << lines[0];
}

TEST(BadInput, ImagesWithoutLabels) {
  test::TempDir dir;
  auto m = test::medmnist_members();
  drop(m, "val_labels");
  std::string in = dir.file("no-val-labels.npz");
  test::write_npz(in, m, true);
  expect_bad_input(in, {"val_labels"});

  auto m2 = test::medmnist_members();
  drop(m2, "train_images");
  std::string in2 = dir.file("no-train-images.npz");
  test::write_npz(in2, m2, false);
  expect_bad_input(in2, {"train_images"});
}

TEST(BadInput, ZipWithoutMedMnistSplits) {
  // A valid zip of .npy members, none of them a split (only the extra key real files may carry).
  test::TempDir dir;
  std::string in = dir.file("no-splits.npz");
  test::write_npz(in, {{"class_names", test::u8_images(3, 2, 2)}}, false);
  expect_bad_input(in, {"missing split", "split"});
}

TEST(BadInput, Hdf5WithoutTheExpectedDatasets) {
  test::TempDir dir;
  std::string in = dir.file("foreign.h5");
  {
    auto f = io::H5File::create_exclusive(in, MPI_COMM_NULL);
    f.create_group("/data");
    f.create_dataset<float>("/data/x", {4, 3});
    std::vector<float> x(12, 1.0f);
    f.write_rows("/data/x", 0, 4, x.data());
    f.set_attr("/", "creator", std::string("not salm"));
    f.close();
  }
  expect_bad_input(in, {"not a salm dataset", "/train", "dataset"});
}

TEST(BadInput, Hdf5WithImagesButNoLabels) {
  test::TempDir dir;
  std::string in = dir.file("nolabels.h5");
  H5Spec s;
  s.with_labels = false;
  write_h5(in, s);
  expect_bad_input(in, {"labels"});
}

TEST(BadInput, Hdf5WithLabelsOfTheWrongLength) {
  test::TempDir dir;
  std::string in = dir.file("shortlabels.h5");
  H5Spec s;
  s.label_rows = 17;
  write_h5(in, s);
  expect_bad_input(in, {"labels"});
}

TEST(BadInput, Hdf5WithoutNumClasses) {
  test::TempDir dir;
  std::string in = dir.file("nonumclasses.h5");
  H5Spec s;
  s.with_num_classes = false;
  write_h5(in, s);
  expect_bad_input(in, {"num_classes"});
}

TEST(BadInput, Hdf5WithFloatImages) {
  test::TempDir dir;
  std::string in = dir.file("float.h5");
  H5Spec s;
  s.float_images = true;
  write_h5(in, s);
  std::string line = expect_bad_input(in, {"uint8"});
  EXPECT_TRUE(mentions_any(line, {"float32", "float"})) << line;
}

// --- outputs -----------------------------------------------------------------------------------

namespace {
/// A valid input for the output tests.
std::string valid_npz(const test::TempDir& dir) {
  std::string in = dir.file("valid.npz");
  if (!test::file_exists(in)) test::write_npz(in, test::medmnist_members(), false);
  return in;
}
}  // namespace

TEST(BadInput, OutputDirectoryDoesNotExist) {
  test::TempDir dir;
  std::string in = valid_npz(dir);
  std::string out = dir.file("no-such-dir/out.h5");
  expect_refused({"convert", "--in", in, "--out", out}, out, {"does not exist", "no such"});
  expect_refused({"synth", "--out", out, "--train", "8", "--val", "4", "--test", "4"}, out,
                 {"does not exist", "no such"});
  EXPECT_FALSE(test::file_exists(dir.file("no-such-dir")));
  std::string under_a_file = in + "/out.h5";  // the "directory" is the input file
  expect_refused({"convert", "--in", in, "--out", under_a_file}, under_a_file, {"not a directory"});
  EXPECT_EQ(test::list_dir(dir.path()), std::vector<std::string>{"valid.npz"});
}

TEST(BadInput, OutputDirectoryNotWritable) {
  test::TempDir dir;
  std::string in = valid_npz(dir);
  std::string ro = dir.file("read-only");
  std::string out;
  if (::geteuid() == 0) {
    // root writes through mode bits; nothing can be created in /proc though.
    out = "/proc/salm-test-out.h5";
  } else {
    ASSERT_EQ(::mkdir(ro.c_str(), 0555), 0);
    out = ro + "/out.h5";
  }
  expect_refused({"convert", "--in", in, "--out", out}, out, {"writable", "permission"});
  EXPECT_FALSE(test::file_exists(out));
  EXPECT_FALSE(test::file_exists(out + ".partial"));
  expect_refused({"synth", "--out", out, "--train", "8", "--val", "4", "--test", "4"}, out,
                 {"writable", "permission"});
  EXPECT_FALSE(test::file_exists(out));
  EXPECT_FALSE(test::file_exists(out + ".partial"));
  if (::geteuid() != 0) {
    EXPECT_TRUE(dir_is_empty(ro));
    ::chmod(ro.c_str(), 0755);
  }
}

TEST(BadInput, OutputIsADirectory) {
  test::TempDir dir;
  std::string in = valid_npz(dir);
  std::string out = dir.file("out.h5");
  ASSERT_EQ(::mkdir(out.c_str(), 0755), 0);
  expect_refused({"convert", "--in", in, "--out", out}, out, {"directory"});
  EXPECT_TRUE(dir_is_empty(out));
  EXPECT_FALSE(test::file_exists(out + ".partial"));
}

TEST(BadInput, ExistingOutputNeedsOverwrite) {
  test::TempDir dir;
  std::string in = valid_npz(dir);
  std::string out = dir.file("out.h5");
  const std::string precious = "an earlier result, not to be lost";
  test::write_file(out, precious);
  expect_refused({"convert", "--in", in, "--out", out}, out, {"exists", "overwrite"});
  EXPECT_EQ(test::read_file(out), precious);
  EXPECT_FALSE(test::file_exists(out + ".partial"));
  expect_refused({"synth", "--out", out, "--train", "8", "--val", "4", "--test", "4"}, out, {"exists", "overwrite"});
  EXPECT_EQ(test::read_file(out), precious);

  auto r = run_salm({"convert", "--in", in, "--out", out, "--overwrite"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(test::read_file(out), precious);
  EXPECT_FALSE(test::file_exists(out + ".partial"));
  EXPECT_EQ(data::open_dataset(out)->shape("train").rows, 20);
}

TEST(BadInput, FailedRunWithOverwriteKeepsTheOldOutput) {
  test::TempDir dir;
  std::string out = dir.file("out.h5");
  const std::string precious = "an earlier result, not to be lost";
  test::write_file(out, precious);
  // Refused at open (npz: the header lies) and while writing (h5: a label out of range).
  auto m = test::medmnist_members();
  member(m, "train_images").shape = {30, 8, 8};
  std::string bad_npz = dir.file("bad.npz");
  test::write_npz(bad_npz, m, false);
  std::string bad_h5 = dir.file("bad.h5");
  H5Spec s;
  s.bad_label = 9;
  write_h5(bad_h5, s);
  for (const auto& in : {bad_npz, bad_h5}) {
    expect_refused({"convert", "--in", in, "--out", out, "--overwrite"}, in, {"shape", "header", "labels"});
    EXPECT_EQ(test::read_file(out), precious) << in;
    EXPECT_FALSE(test::file_exists(out + ".partial")) << in;
  }
}

TEST(BadInput, ForeignPartialIsRefusedAndKept) {
  test::TempDir dir;
  std::string in = valid_npz(dir);
  std::string out = dir.file("out.h5");
  test::write_file(out + ".partial", "another run's");
  std::string partial = out + ".partial";
  expect_refused({"convert", "--in", in, "--out", out}, partial, {"exists", "overwrite", "another"});
  EXPECT_EQ(test::read_file(partial), "another run's");
  EXPECT_FALSE(test::file_exists(out));
}

TEST(BadInput, NpyHeaderWithAbsurdShape) {
  test::TempDir dir;
  // A dimension that does not fit in 64 bits. (npy_bytes writes `descr` verbatim, so a descr that
  // closes its quote and opens a 'shape' entry puts that shape first in the header dict.)
  {
    auto m = test::medmnist_members();
    member(m, "train_images").descr = "|u1', 'shape': (99999999999999999999, 8, 8), 'x': '";
    std::string in = dir.file("huge-dim.npz");
    test::write_npz(in, m, false);
    expect_bad_input(in, {"shape", "header", "dimension"});
  }
  // Rows whose byte count overflows 64 bits (2^62 x 8 x 8 uint8 = 2^68 bytes) with no data: the
  // header must not be taken as consistent with the (empty) member.
  {
    auto m = test::medmnist_members();
    const std::int64_t huge = std::int64_t{1} << 62;
    member(m, "train_images") = test::NpyArray{"|u1", {huge, 8, 8}, "", false};
    member(m, "train_labels") = test::NpyArray{"<i8", {huge, 1}, "", false};
    std::string in = dir.file("overflow.npz");
    test::write_npz(in, m, false);
    expect_bad_input(in, {"shape", "header", "large", "size"});
  }
}

TEST(BadInput, DamagedDeflateMember) {
  // The archive's directory is intact but one member's compressed stream is damaged past the
  // first 64 KiB, so it is found while rows are read (convert has begun writing by then).
  test::TempDir dir;
  std::string in = dir.file("damaged.npz");
  test::write_npz(in, test::medmnist_members(20, 6, 10, 4, 128, 128), /*deflate=*/true);
  std::string b = test::read_file(in);
  auto name = b.find("test_images.npy");
  ASSERT_NE(name, std::string::npos);
  auto u16 = [&](std::size_t at) { return static_cast<std::size_t>(static_cast<unsigned char>(b[at])) |
                                          static_cast<std::size_t>(static_cast<unsigned char>(b[at + 1])) << 8; };
  std::size_t local = name - 30;  // local file header: signature PK\3\4, sizes, name, extra
  ASSERT_EQ(b.compare(local, 4, "PK\x03\x04"), 0);
  std::size_t csize = u16(local + 18) | u16(local + 20) << 16;
  std::size_t data = local + 30 + u16(local + 26) + u16(local + 28);
  ASSERT_GT(csize, 64u);
  ASSERT_LE(data + csize, b.size());
  for (std::size_t k = csize * 4 / 5; k < csize * 4 / 5 + 16; ++k) b[data + k] = static_cast<char>(b[data + k] ^ 0x5a);
  test::write_file(in, b);
  expect_bad_input(in, {"zip", "damaged", "corrupt", "zlib", "crc", "read"});
}

// ---- IDX directories (MNIST / Fashion-MNIST layout) ----------------------------------------

TEST(BadIdx, EachDamageIsNamedWithItsFile) {
  struct Case {
    const char* name;
    std::function<void(const std::string& dir)> damage;
    std::vector<std::string> words;
  };
  auto images = [](std::uint32_t n) { return std::string(n * 64, '\x10'); };
  std::vector<Case> cases{
      {"missing test labels", [](const std::string& d) { std::remove((d + "/t10k-labels-idx1-ubyte.gz").c_str()); },
       {"t10k-labels"}},
      {"truncated images", [&](const std::string& d) {
         test::write_maybe_gz(d + "/train-images-idx3-ubyte.gz", test::idx_bytes({20, 8, 8}, images(19)), true);
       }, {"truncated"}},
      {"trailing bytes", [&](const std::string& d) {
         test::write_maybe_gz(d + "/train-images-idx3-ubyte.gz", test::idx_bytes({20, 8, 8}, images(20) + "x"), true);
       }, {"after the data"}},
      {"float elements", [&](const std::string& d) {
         auto b = test::idx_bytes({20, 8, 8}, images(20));
         b[2] = '\x0d';
         test::write_maybe_gz(d + "/train-images-idx3-ubyte.gz", b, true);
       }, {"element type"}},
      {"labels with 2 dims", [](const std::string& d) {
         test::write_maybe_gz(d + "/train-labels-idx1-ubyte.gz", test::idx_bytes({20, 1}, std::string(20, '\0')), true);
       }, {"dimensions"}},
      {"not IDX at all", [](const std::string& d) {
         test::write_maybe_gz(d + "/t10k-images-idx3-ubyte.gz", "GIF89a...", true);
       }, {"magic"}},
      {"more labels than images", [](const std::string& d) {
         test::write_maybe_gz(d + "/t10k-labels-idx1-ubyte.gz", test::idx_bytes({11}, std::string(11, '\1')), true);
       }, {"11 labels for 10 images"}},
      {"a huge header", [](const std::string& d) {
         test::write_maybe_gz(d + "/train-images-idx3-ubyte.gz", test::idx_bytes({4000000000u, 4000, 4000}, ""), true);
       }, {"64 GiB"}},
      {"damaged gzip", [](const std::string& d) {
         test::write_file(d + "/train-images-idx3-ubyte.gz", std::string("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03", 10) +
                                                           random_bytes(200, 3));
       }, {"damaged", "truncated", "magic"}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    test::TempDir idx;
    test::write_idx_dataset(idx.path(), 20, 10, 4);
    c.damage(idx.path());
    expect_bad_input(idx.path(), c.words);
  }
}

TEST(BadIdx, LabelsOutsideTheClassesAndDirectoriesWithoutIdx) {
  test::TempDir idx, empty;
  test::write_idx_dataset(idx.path(), 20, 10, 4);
  expect_bad_input(idx.path(), {"outside"}, {"--num-classes", "3"}, [] {
    data::OpenOptions o;
    o.num_classes = 3;
    return o;
  }());
  expect_bad_input(empty.path(), {"directory"});
}

// ---- inputs verified, not trusted (issue 19) --------------------------------------------------

namespace {
/// Flips one byte in the middle of the data of member `key` (".npy" appended) of a zip archive.
void flip_member_byte(const std::string& path, const std::string& key) {
  std::string b = test::read_file(path);
  auto name = b.find(key + ".npy");
  ASSERT_NE(name, std::string::npos);
  auto u16 = [&](std::size_t at) { return static_cast<std::size_t>(static_cast<unsigned char>(b[at])) |
                                          static_cast<std::size_t>(static_cast<unsigned char>(b[at + 1])) << 8; };
  std::size_t local = name - 30;
  ASSERT_EQ(b.compare(local, 4, "PK\x03\x04"), 0);
  std::size_t csize = u16(local + 18) | u16(local + 20) << 16;
  std::size_t data = local + 30 + u16(local + 26) + u16(local + 28);
  b[data + csize - 3] = static_cast<char>(b[data + csize - 3] ^ 0x01);  // one bit near the end
  test::write_file(path, b);
}
}  // namespace

TEST(BadInput, OneFlippedBitInAStoredOrDeflatedMemberIsFoundByItsCrc) {
  // Before: a flipped byte in deflated val labels gave labels of 1.7e10 and exit 0.
  test::TempDir dir;
  for (bool deflate : {false, true})
    for (const char* key : {"val_labels", "train_images"}) {
      std::string in = dir.file(std::string(deflate ? "d-" : "s-") + key + ".npz");
      test::write_npz(in, test::medmnist_members(), deflate);
      flip_member_byte(in, key);
      std::string line = expect_bad_input(in, {"damaged"});
      EXPECT_NE(line.find(key), std::string::npos) << line;
    }
}

TEST(BadInput, AbsurdLabelsAndEmptySplitsAreRefused) {
  test::TempDir dir;
  {  // a label of 2^62: not a class id (before: a 2^62-class dataset)
    auto m = test::medmnist_members();
    auto v = cycle_labels(20, 4);
    v[5] = std::int64_t{1} << 62;
    member(m, "train_labels") = labels_of(v);
    std::string in = dir.file("huge.npz");
    test::write_npz(in, m, false);
    expect_bad_input(in, {"not class ids"});
  }
  {  // test labels 1000..1009 that never occur in train (before: a "1010-class" dataset)
    auto m = test::medmnist_members();
    auto v = cycle_labels(10, 4);
    for (auto& x : v) x += 1000;
    member(m, "test_labels") = labels_of(v);
    std::string in = dir.file("absent.npz");
    test::write_npz(in, m, false);
    expect_bad_input(in, {"never occurs in train_labels"});
  }
  {  // a train split of zero rows
    auto m = test::medmnist_members();
    member(m, "train_images") = test::u8_images(0, 8, 8);
    member(m, "train_labels") = labels_of({});
    std::string in = dir.file("empty-train.npz");
    test::write_npz(in, m, false);
    expect_bad_input(in, {"no rows"});
  }
  {  // images of [N, 0, 0, 1]
    auto m = test::medmnist_members();
    member(m, "train_images") = test::u8_images(20, 0, 0, 1);
    std::string in = dir.file("no-pixels.npz");
    test::write_npz(in, m, false);
    expect_bad_input(in, {"empty height or width"});
  }
}

TEST(BadInput, Hdf5HeadersThatLieAboutTheirSizeOrClassesAreRefused) {
  test::TempDir dir;
  {  // [2^30, 28, 28, 1] declared in a file of kilobytes (before: an 850 GB sparse .partial)
    std::string in = dir.file("huge.h5");
    {
      auto f = io::H5File::create_exclusive(in, MPI_COMM_NULL);
      f.create_group("/train");
      f.set_attr("/", "num_classes", std::int64_t{4});
      // Declared, never written: no storage is allocated (HDF5's late allocation, no fill).
      hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
      H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_LATE);
      H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER);
      for (auto [name, type, rank] : std::vector<std::tuple<const char*, hid_t, int>>{
               {"/train/images", H5T_NATIVE_UINT8, 4}, {"/train/labels", H5T_NATIVE_INT64, 1}}) {
        hsize_t dims[4] = {hsize_t{1} << 30, 28, 28, 1};
        hid_t sp = H5Screate_simple(rank, dims, nullptr);
        hid_t ds = H5Dcreate2(f.id(), name, type, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
        ASSERT_GE(ds, 0);
        H5Dclose(ds);
        H5Sclose(sp);
      }
      H5Pclose(dcpl);
      f.close();
    }
    struct stat st {};
    ASSERT_EQ(::stat(in.c_str(), &st), 0);
    ASSERT_LT(st.st_blocks * 512, 1 << 20) << "the crafted file itself must be small";
    expect_bad_input(in, {"declares", "stores"});
  }
  {  // num_classes = 1e9
    std::string in = dir.file("classes.h5");
    write_h5(in, {});
    {
      hid_t f = H5Fopen(in.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
      ASSERT_GE(f, 0);
      std::int64_t v = 1000000000;
      hid_t a = H5Aopen(f, "num_classes", H5P_DEFAULT);
      H5Awrite(a, H5T_NATIVE_INT64, &v);
      H5Aclose(a);
      H5Fclose(f);
    }
    expect_bad_input(in, {"num_classes", "not a number of classes"});
  }
}

TEST(BadInput, StringAttributesOfEveryOrdinaryKindAreRead) {
  // h5py writes variable-length UTF-8 strings; before, reading them failed with an HDF5 conversion error.
  test::TempDir dir;
  std::string in = dir.file("h5py-style.h5");
  write_h5(in, {});
  hid_t f = H5Fopen(in.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  for (auto [name, value, utf8, variable] :
       std::vector<std::tuple<const char*, const char*, bool, bool>>{{"name", "vlen-utf8", true, true},
                                                                     {"task", "multi-class", false, true},
                                                                     {"source", "fixed-utf8", true, false}}) {
    H5Adelete(f, name);
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, variable ? H5T_VARIABLE : std::strlen(value) + 1);
    H5Tset_cset(t, utf8 ? H5T_CSET_UTF8 : H5T_CSET_ASCII);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(f, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    if (variable) H5Awrite(a, t, &value);
    else H5Awrite(a, t, value);
    H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
  }
  H5Fclose(f);
  auto reader = data::open_dataset(in);
  EXPECT_EQ(reader->info().name, "vlen-utf8");
  EXPECT_EQ(reader->info().task, data::Task::multi_class);
  EXPECT_EQ(reader->info().source, "fixed-utf8");
  test::TempDir out;
  auto r = run_salm({"convert", "--in", in, "--out", out.file("ok.h5")});
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST(BadInput, AFifoIsRefusedInsteadOfBlocking) {
  test::TempDir dir;
  std::string fifo = dir.file("pipe.npz");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  // (before: `salm inspect` on a FIFO waited forever for a writer)
  expect_bad_input(fifo, {"not a regular file"});
  EXPECT_THROW(io::H5File::open_read(fifo), InputError);
}
