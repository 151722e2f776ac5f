// data: the synthetic generator, the readers (npz fixtures, salm .h5), sharded reads.
#include <gtest/gtest.h>

#include <map>
#include <numeric>

#include "salm/core/error.hpp"
#include "salm/data/h5_dataset.hpp"
#include "salm/data/npz.hpp"
#include "salm/data/reader.hpp"
#include "salm/data/synth.hpp"
#include "salm/dist/communicator.hpp"
#include "idx_writer.hpp"
#include "npz_writer.hpp"
#include "test_support.hpp"

using namespace salm;

namespace {
data::SynthOptions small_synth() {
  data::SynthOptions o;
  o.train = 90;
  o.val = 9;
  o.test = 27;
  return o;
}
}  // namespace

TEST(Synth, DeterministicPerSeedAndIndependentOfChunking) {
  auto o = small_synth();
  auto a = data::synth_rows(o, "train", 0, 20);
  auto b = data::synth_rows(o, "train", 0, 20);
  EXPECT_EQ(a.images, b.images);
  EXPECT_EQ(a.labels, b.labels);
  auto tail = data::synth_rows(o, "train", 12, 8);  // what another rank would generate
  EXPECT_TRUE(std::equal(tail.images.begin(), tail.images.end(), a.image(12)));
  EXPECT_TRUE(std::equal(tail.labels.begin(), tail.labels.end(), a.labels.begin() + 12));
  auto o2 = o;
  o2.seed = 1;
  EXPECT_NE(data::synth_rows(o2, "train", 0, 20).images, a.images);
  EXPECT_NE(data::synth_rows(o, "test", 0, 20).images, a.images);
}

TEST(Synth, BalancedSparseAndVaried) {
  auto o = small_synth();
  auto d = data::synth_rows(o, "train", 0, o.train);
  std::map<std::int64_t, int> counts;
  for (auto l : d.labels) counts[l]++;
  ASSERT_EQ(counts.size(), 9u);
  for (auto& [c, n] : counts) EXPECT_EQ(n, 10) << "class " << c;
  double bg = 0;
  for (std::int64_t i = 0; i < d.rows(); ++i) bg += data::background_fraction(d.image(i), 28, 28, 3);
  bg /= static_cast<double>(d.rows());
  EXPECT_GT(bg, 0.6) << "most pixels should be background";
  EXPECT_LT(bg, 0.97) << "the cells must carry signal";
  // no two images alike
  for (std::int64_t i = 1; i < d.rows(); ++i)
    EXPECT_FALSE(std::equal(d.image(i), d.image(i) + 28 * 28 * 3, d.image(0)));
  // class means differ in colour: class signal is present
  std::vector<std::array<double, 3>> mean(9, {0, 0, 0});
  for (std::int64_t i = 0; i < d.rows(); ++i)
    for (int p = 0; p < 28 * 28; ++p)
      for (int c = 0; c < 3; ++c) mean[static_cast<std::size_t>(d.labels[static_cast<std::size_t>(i)])][static_cast<std::size_t>(c)] += d.image(i)[p * 3 + c];
  EXPECT_NE(mean[0], mean[3]);
}

TEST(Synth, GreyAndOtherSizes) {
  auto o = small_synth();
  o.channels = 1;
  o.size = 64;
  auto d = data::synth_rows(o, "val", 0, 3);
  EXPECT_EQ(d.images.size(), 3u * 64 * 64);
  EXPECT_EQ(d.shape.channels, 1);
  o.channels = 2;
  EXPECT_THROW(o.validate(), UsageError);
  o.channels = 3;
  o.size = 8;
  EXPECT_THROW(o.validate(), UsageError);
}

TEST(Background, BrightAndDarkBackgrounds) {
  std::vector<std::uint8_t> img(10 * 10, 0);
  for (int y = 3; y < 6; ++y)
    for (int x = 3; x < 6; ++x) img[static_cast<std::size_t>(y * 10 + x)] = 200;
  EXPECT_DOUBLE_EQ(data::background_fraction(img.data(), 10, 10, 1), 0.91);
  for (auto& v : img) v = static_cast<std::uint8_t>(255 - v);
  EXPECT_DOUBLE_EQ(data::background_fraction(img.data(), 10, 10, 1), 0.91);
}

TEST(Labels, CheckedAgainstTask) {
  EXPECT_EQ(data::check_labels({0, 1, 2}, 0, data::Task::multi_class, 3, "l"), "");
  EXPECT_NE(data::check_labels({0, 3}, 0, data::Task::multi_class, 3, "l").find("l[1] = 3"), std::string::npos);
  EXPECT_NE(data::check_labels({-1}, 0, data::Task::multi_class, 3, "l"), "");
  EXPECT_EQ(data::check_labels({0, 1, 1, 0}, 2, data::Task::multi_label, 2, "l"), "");
  EXPECT_NE(data::check_labels({0, 2, 1, 0}, 2, data::Task::multi_label, 2, "l"), "");
  EXPECT_EQ(data::parse_task("ordinal-regression"), data::Task::ordinal_regression);
  EXPECT_THROW(data::parse_task("regression"), UsageError);
}

TEST(Npz, FixturesReadAsMedMnist) {
  if (test::fixture("").empty()) GTEST_SKIP() << "../shared/fixtures is absent";
  auto gray = data::open_dataset(test::fixture("fashion_gray_stored.npz"));
  EXPECT_EQ(gray->splits(), (std::vector<std::string>{"train", "val", "test"}));
  EXPECT_EQ(gray->shape("train").rows, 400);
  EXPECT_EQ(gray->shape("val").rows, 100);
  EXPECT_EQ(gray->shape("test").rows, 100);
  EXPECT_EQ(gray->shape("train").channels, 1);
  EXPECT_EQ(gray->info().num_classes, 10);
  EXPECT_EQ(gray->info().task, data::Task::multi_class);
  EXPECT_EQ(gray->info().name, "fashion_gray_stored");

  auto deflate = data::open_dataset(test::fixture("fashion_gray_deflate.npz"));  // has class_names: ignored
  auto a = gray->read_all("train"), b = deflate->read_all("train");
  EXPECT_EQ(a.images, b.images) << "stored and deflated fixtures hold the same images";
  EXPECT_EQ(a.labels, b.labels);

  auto rgb = data::open_dataset(test::fixture("fashion_rgb_deflate.npz"));
  EXPECT_EQ(rgb->shape("test").channels, 3);
  auto multi = data::open_dataset(test::fixture("fashion_multilabel_stored.npz"));
  EXPECT_EQ(multi->info().task, data::Task::multi_label);
  EXPECT_EQ(multi->info().num_classes, 3);
  EXPECT_EQ(multi->shape("train").label_dim, 3);
  EXPECT_EQ(multi->read("train", 10, 5).labels.size(), 15u);
}

TEST(Npz, ShardedReadsEqualSlicesOfTheWhole) {
  if (test::fixture("").empty()) GTEST_SKIP() << "../shared/fixtures is absent";
  for (const char* name : {"fashion_gray_stored.npz", "fashion_rgb_deflate.npz"}) {
    auto r = data::open_dataset(test::fixture(name));
    auto all = r->read_all("train");
    std::int64_t per = all.shape.image_elems();
    for (int rank = 0; rank < 3; ++rank) {
      auto s = r->read_shard("train", rank, 3);
      ASSERT_TRUE(std::equal(s.images.begin(), s.images.end(), all.images.begin() + s.row_begin * per)) << name;
      ASSERT_TRUE(std::equal(s.labels.begin(), s.labels.end(), all.labels.begin() + s.row_begin));
    }
  }
}

TEST(Npz, OptionsOverrideInference) {
  test::TempDir dir;
  std::string p = dir.file("m.npz");
  test::write_npz(p, test::medmnist_members(20, 6, 10, 2), true);
  auto r = data::open_dataset(p);
  EXPECT_EQ(r->info().num_classes, 2);
  EXPECT_EQ(r->info().task, data::Task::binary_class);
  data::OpenOptions o;
  o.num_classes = 5;
  o.task = data::Task::ordinal_regression;
  o.name = "retina";
  r = data::open_dataset(p, o);
  EXPECT_EQ(r->info().num_classes, 5);
  EXPECT_EQ(r->info().task, data::Task::ordinal_regression);
  EXPECT_EQ(r->info().name, "retina");
}

TEST(H5Dataset, WriteThenReadBack) {
  test::TempDir dir;
  dist::SelfCommunicator comm;
  auto o = small_synth();
  std::map<std::string, data::SplitShape> shapes;
  for (const auto& s : data::split_names()) shapes[s] = data::synth_shape(o, s);
  std::string path = dir.file("d.h5");
  data::write_dataset_file(path, false, comm, data::synth_info(o), shapes,
                           [&](const std::string& s, std::int64_t b, std::int64_t n) { return data::synth_rows(o, s, b, n); },
                           /*chunk_rows=*/16);
  auto r = data::open_dataset(path);
  EXPECT_EQ(r->info().num_classes, 9);
  EXPECT_EQ(r->info().name, "salm-synth");
  EXPECT_EQ(r->shape("test").rows, 27);
  auto back = r->read("train", 30, 40);
  auto want = data::synth_rows(o, "train", 30, 40);
  EXPECT_EQ(back.images, want.images);
  EXPECT_EQ(back.labels, want.labels);
  EXPECT_THROW(r->read("train", 80, 20), RuntimeError);
  EXPECT_THROW(r->shape("nope"), InputError);
}

TEST(Idx, PlainAndGzippedDirectoriesReadTheSame) {
  test::TempDir gz, plain;
  test::write_idx_dataset(gz.path(), 30, 12, 10, 8, 6, /*gz=*/true);
  test::write_idx_dataset(plain.path(), 30, 12, 10, 8, 6, /*gz=*/false);
  auto a = data::open_dataset(gz.path()), b = data::open_dataset(plain.path());
  EXPECT_EQ(a->splits(), (std::vector<std::string>{"train", "test"}));
  EXPECT_EQ(a->info().num_classes, 10);
  EXPECT_EQ(a->info().task, data::Task::multi_class);
  EXPECT_EQ(a->shape("train").rows, 30);
  EXPECT_EQ(a->shape("test").height, 8);
  EXPECT_EQ(a->shape("test").width, 6);
  EXPECT_EQ(a->shape("test").channels, 1);
  for (const auto& split : {"train", "test"}) {
    auto x = a->read_all(split), y = b->read_all(split);
    EXPECT_EQ(x.images, y.images);
    EXPECT_EQ(x.labels, y.labels);
  }
  auto rows = a->read("train", 11, 3);
  ASSERT_EQ(rows.images.size(), 3u * 48);
  EXPECT_EQ(rows.images[0], static_cast<std::uint8_t>(11 * 7 % 256));
  EXPECT_EQ(rows.images[48 + 5], static_cast<std::uint8_t>((12 * 7 + 5) % 256));
  EXPECT_EQ(rows.labels, (std::vector<std::int64_t>{1, 2, 3}));
  EXPECT_EQ(a->read_labels("test", 9, 3), (std::vector<std::int64_t>{9, 0, 1}));
}

TEST(Npy, HeadersAreParsedAsStrictlyAsNumpyDoes) {
  auto header = [](const std::string& dict) {
    std::string h = dict;
    while ((10 + h.size() + 1) % 64 != 0) h += ' ';
    h += '\n';
    std::string p = std::string("\x93NUMPY\x01\x00", 8);
    p += static_cast<char>(h.size() & 0xff);
    p += static_cast<char>(h.size() >> 8);
    return p + h;
  };
  auto ok = data::parse_npy_header("x.npy", header("{'descr': '|u1', 'fortran_order': False, 'shape': (5, 28, 28), }"));
  EXPECT_EQ(ok.shape, (std::vector<std::int64_t>{5, 28, 28}));
  EXPECT_EQ(data::parse_npy_header("x.npy", header("{\"descr\":\"<i8\",\"fortran_order\":True,\"shape\":(3,)}")).shape,
            (std::vector<std::int64_t>{3}));
  EXPECT_TRUE(data::parse_npy_header("x.npy", header("{'descr': '<f4', 'fortran_order': False, 'shape': ()}")).shape.empty());
  // What numpy.load refuses ("Header does not contain the correct keys", "shape is not valid", ...)
  for (const char* bad : {
           "{'descr': '|u1', 'fortran_order': False, 'shape': (5,), 'extra': 1}",  // an extra key
           "{'descr': '|u1', 'shape': (5,)}",                                      // a key missing
           "{'descr': '|u1', 'descr': '|u1', 'fortran_order': False, 'shape': (5,)}",
           "{'descr': '|u1', 'fortran_order': 0, 'shape': (5,)}",                  // not a bool
           "{'descr': '|u1', 'fortran_order': False, 'shape': (5)}",               // an int, not a tuple
           "{'descr': '|u1', 'fortran_order': False, 'shape': [5]}",               // a list
           "{'descr': '|u1', 'fortran_order': False, 'shape': (5, -1)}",
           "{'descr': '|u1', 'fortran_order': False, 'shape': (5.0,)}",
           "{'descr': '|u1', 'fortran_order': False, 'shape': (5,)} trailing",
           "['descr', '|u1']",
           "{'descr': '|u1', 'fortran_order': False, 'shape': (5,)",               // unterminated
       }) {
    EXPECT_THROW(data::parse_npy_header("x.npy", header(bad)), InputError) << bad;
  }
}

TEST(Idx, DamagedGzipStreamsAreRefusedNamingTheFile) {
  test::TempDir dir;
  test::write_idx_dataset(dir.path(), 30, 12, 10, 8, 6, /*gz=*/true);
  const std::string labels = dir.file("train-labels-idx1-ubyte.gz");
  const std::string good = test::read_file(labels);
  auto refused = [&](const std::string& bytes, const std::string& needle) {
    test::write_file(labels, bytes);
    try {
      data::open_dataset(dir.path());
      ADD_FAILURE() << "accepted: " << needle;
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("train-labels-idx1-ubyte.gz"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  refused(good + "garbage!", "trailing garbage");                      // zlib's gzread ignores these
  refused(good.substr(0, good.size() - 4), "truncated");               // the length trailer cut off
  refused(good.substr(0, good.size() / 2), "truncated");
  std::string crc = good;
  crc[crc.size() - 6] = static_cast<char>(crc[crc.size() - 6] ^ 0x40);  // the CRC-32 trailer
  refused(crc, "damaged");
  // two gzip members one after the other are ordinary gzip (cat a.gz b.gz): read, not refused
  test::TempDir plain;
  test::write_idx_dataset(plain.path(), 30, 12, 10, 8, 6, /*gz=*/false);
  const std::string raw = test::read_file(plain.file("train-labels-idx1-ubyte"));
  test::write_maybe_gz(plain.file("a.gz"), raw.substr(0, 10), true);
  test::write_maybe_gz(plain.file("b.gz"), raw.substr(10), true);
  test::write_file(labels, test::read_file(plain.file("a.gz")) + test::read_file(plain.file("b.gz")));
  auto reader = data::open_dataset(dir.path());
  EXPECT_EQ(reader->read_labels("train", 0, 30), data::open_dataset(plain.path())->read_labels("train", 0, 30));
}
