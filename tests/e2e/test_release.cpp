// salm export (the protected release, .npz or PNG folder) and salm restore (the clean data back,
// bit for bit, from the release and the noise file).
#include <gtest/gtest.h>

#include <stb_image.h>
#include <sys/stat.h>

#include "salm/data/reader.hpp"
#include "salm/io/h5.hpp"
#include "test_support.hpp"

using namespace salm;

namespace {
struct Protected {
  test::TempDir dir;
  std::string data = dir.file("d.h5"), noise = dir.file("n.h5");
  Protected() {
    EXPECT_EQ(test::run_salm({"synth", "--out", data, "--classes", "3", "--train", "30", "--val", "6", "--test", "9", "--size", "16"}).exit_code, 0);
    auto r = test::run_salm({"protect", "--data", data, "--out", noise, "--model", "small-cnn", "--max-iters", "1",
                             "--train-steps", "1", "--pgd-steps", "3", "--step-size", "4", "--no-checkpoint",
                             // a target any victim meets: the file records a passed check, as export wants
                             "--target-val-acc", "1", "--check-epochs", "1"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
  }
};
}  // namespace

namespace {
unsigned mode_of(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 0777;
}
}  // namespace

TEST(Release, ByDefaultOnlyProtectedImagesAndTheKeysArePrivate) {
  Protected p;
  EXPECT_EQ(mode_of(p.noise), 0600u) << "the noise file is the key";
  std::string npz = p.dir.file("release.npz");
  auto r = test::run_salm({"export", p.noise, "--out", npz});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err.find("clean images"), std::string::npos) << r.err;
  auto rel = data::open_dataset(npz);
  EXPECT_EQ(rel->splits(), std::vector<std::string>{"train"});
  EXPECT_EQ(rel->read_all("train").images, io::H5File::open_read(p.noise).read_all<std::uint8_t>("/protected"));
  // The release is images and labels only: nothing of the key, nor where it came from.
  const std::string bytes = test::read_file(npz);
  for (const char* leak : {"delta", "mask", "sha256", "d.h5"}) EXPECT_EQ(bytes.find(leak), std::string::npos) << leak;
  auto restored = p.dir.file("restored.h5");
  ASSERT_EQ(test::run_salm({"restore", "--protected", npz, "--noise", p.noise, "--out", restored}).exit_code, 0);
  EXPECT_EQ(mode_of(restored), 0600u) << "restored clean data";
  EXPECT_EQ(data::open_dataset(restored)->read_all("train").images, data::open_dataset(p.data)->read_all("train").images);
  // inspect says when a key is readable by others
  ::chmod(p.noise.c_str(), 0644);
  auto i = test::run_salm({"inspect", p.noise});
  EXPECT_EQ(i.exit_code, 0);
  EXPECT_NE(i.err.find("readable by its group or others"), std::string::npos) << i.err;
}

TEST(Release, ExportNpzThenRestoreGivesTheCleanImagesBitForBit) {
  Protected p;
  std::string npz = p.dir.file("release.npz");
  auto r = test::run_salm({"export", p.noise, "--out", npz, "--splits", "all"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("also ships clean images"), std::string::npos) << r.err;
  auto rel = data::open_dataset(npz), src = data::open_dataset(p.data);
  auto prot = io::H5File::open_read(p.noise).read_all<std::uint8_t>("/protected");
  EXPECT_EQ(rel->read_all("train").images, prot);
  EXPECT_EQ(rel->read_all("train").labels, src->read_all("train").labels);
  EXPECT_NE(rel->read_all("train").images, src->read_all("train").images) << "the release must be the protected images";
  for (const char* sp : {"val", "test"}) EXPECT_EQ(rel->read_all(sp).images, src->read_all(sp).images) << sp;
  EXPECT_EQ(rel->info().num_classes, 3);

  for (int ranks : {1, 2}) {
    std::string clean = p.dir.file("clean" + std::to_string(ranks) + ".h5");
    std::vector<std::string> args{"restore", "--protected", npz, "--noise", p.noise, "--out", clean};
    auto rr = ranks == 1 ? test::run_salm(args) : test::run_salm_mpi(2, args);
    ASSERT_EQ(rr.exit_code, 0) << rr.err;
    auto back = data::open_dataset(clean);
    for (const char* sp : {"train", "val", "test"}) {
      EXPECT_EQ(back->read_all(sp).images, src->read_all(sp).images) << sp << ", " << ranks << " rank(s)";
      EXPECT_EQ(back->read_all(sp).labels, src->read_all(sp).labels) << sp;
    }
  }
  // refused: an existing output, a release of other data, a bad format
  EXPECT_EQ(test::run_salm({"export", p.noise, "--out", npz}).exit_code, 2);
  std::string other = p.dir.file("other.h5");
  ASSERT_EQ(test::run_salm({"synth", "--out", other, "--classes", "3", "--train", "30", "--val", "0", "--test", "3", "--size", "16", "--seed", "5"}).exit_code, 0);
  for (const auto& [args, needle] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"restore", "--protected", other, "--noise", p.noise, "--out", p.dir.file("x.h5")}, other},
           {{"export", p.noise, "--out", p.dir.file("x.npz"), "--format", "gif"}, "--format"},
           {{"export", p.data, "--out", p.dir.file("x.npz")}, p.data}}) {
    auto e = test::run_salm(args);
    EXPECT_EQ(e.exit_code, 2) << e.err;
    auto lines = test::error_lines(e.err);
    ASSERT_EQ(lines.size(), 1u) << e.err;
    EXPECT_NE(lines[0].find(needle), std::string::npos) << lines[0];
    EXPECT_FALSE(test::file_exists(p.dir.file("x.h5")));
    EXPECT_FALSE(test::file_exists(p.dir.file("x.npz")));
  }
}

TEST(Release, ExportPngFolderHoldsTheProtectedImagesByClass) {
  Protected p;
  std::string out = p.dir.file("pngs");
  auto r = test::run_salm({"export", p.noise, "--out", out, "--format", "png", "--splits", "train"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto f = io::H5File::open_read(p.noise);
  auto prot = f.read_all<std::uint8_t>("/protected");
  auto labels = f.read_all<std::int64_t>("/labels");
  std::size_t files = 0;
  for (const auto& c : test::list_dir(out + "/train")) files += test::list_dir(out + "/train/" + c).size();
  EXPECT_EQ(files, labels.size());
  int w = 0, h = 0, comp = 0;
  std::string first = out + "/train/" + std::to_string(labels[4]) + "/000004.png";
  unsigned char* img = stbi_load(first.c_str(), &w, &h, &comp, 3);
  ASSERT_NE(img, nullptr) << first;
  EXPECT_EQ(w, 16);
  EXPECT_TRUE(std::equal(img, img + 16 * 16 * 3, prot.begin() + 4 * 16 * 16 * 3));
  stbi_image_free(img);
  EXPECT_FALSE(test::file_exists(out + ".partial"));
}
