// The robustness audit: the preprocessing transforms and similarity metrics on hand-made images
// with values worked out by hand, then `salm evaluate` with every audit option, `--suite`, and
// `salm inspect --similarity` on tiny built-in data (1 and 2 ranks), and every bad option.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <numeric>
#include <sstream>

#include <nlohmann/json.hpp>

#include "salm/core/error.hpp"
#include "salm/dist/communicator.hpp"
#include "salm/eval/similarity.hpp"
#include "salm/eval/transforms.hpp"
#include "test_support.hpp"

using namespace salm;
using test::run_salm;

namespace {

using Image = std::vector<std::uint8_t>;

Image filtered(const Image& in, std::int64_t h, std::int64_t w, std::int64_t c, eval::Filter f) {
  Image out(in.size());
  eval::filter_image(in.data(), out.data(), h, w, c, f);
  return out;
}

Image cropped(const Image& in, std::int64_t h, std::int64_t w, std::int64_t c, double fraction) {
  Image out(in.size());
  eval::crop_resize_image(in.data(), out.data(), h, w, c, fraction);
  return out;
}

/// A textured colour image: smooth gradients plus a checkerboard, so JPEG has work to do.
Image textured(std::int64_t h, std::int64_t w, std::int64_t c) {
  Image im(static_cast<std::size_t>(h * w * c));
  for (std::int64_t y = 0; y < h; ++y)
    for (std::int64_t x = 0; x < w; ++x)
      for (std::int64_t k = 0; k < c; ++k)
        im[static_cast<std::size_t>((y * w + x) * c + k)] =
            static_cast<std::uint8_t>((40 + 6 * x + 4 * y + 30 * k + ((x / 2 + y / 2) % 2) * 60) % 256);
  return im;
}

data::SplitData split_of(const std::vector<Image>& images, std::int64_t h, std::int64_t w, std::int64_t c) {
  data::SplitData d;
  d.split = "train";
  d.shape = {static_cast<std::int64_t>(images.size()), h, w, c, 0};
  for (const auto& im : images) d.images.insert(d.images.end(), im.begin(), im.end());
  d.labels.assign(images.size(), 0);
  return d;
}

// ---- the tiny data and noise file of the CLI tests --------------------------------------------

/// Rows of 16x16x3, 3 classes (exactly balanced: 16 rows each), and (made when first asked for) a
/// quick SALM noise file of it.
class Tiny {
  test::TempDir dir_;  // first: made before the paths in it
  mutable std::string noise_;

public:
  std::string data;
  std::string unused_noise;  ///< for options refused before the noise file is opened

  Tiny() : data(dir_.file("tiny.h5")), unused_noise(dir_.file("never-read.h5")) {
    auto r = run_salm({"synth", "--out", data, "--classes", "3", "--train", "48", "--val", "0", "--test", "24", "--size", "16"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
  }
  const std::string& noise() const {
    if (noise_.empty()) {
      noise_ = dir_.file("noise.h5");
      auto r = run_salm({"protect", "--data", data, "--out", noise_, "--model", "small-cnn", "--pgd-steps", "3",
                         "--train-steps", "2", "--max-iters", "2", "--batch-size", "16", "--stop-acc", "0"});
      EXPECT_EQ(r.exit_code, 0) << r.err;
    }
    return noise_;
  }
};

const Tiny& tiny() {
  static Tiny t;
  return t;
}

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

// ---- transforms --------------------------------------------------------------------------------

TEST(Audit, FiltersOfAConstantImageKeepIt) {
  const Image flat(5 * 4 * 3, 7);
  for (auto f : {eval::Filter::mean, eval::Filter::median, eval::Filter::gaussian, eval::Filter::none})
    EXPECT_EQ(filtered(flat, 5, 4, 3, f), flat) << eval::to_string(f);
}

TEST(Audit, MedianRemovesAnIsolatedBrightPixelMeanAndGaussianSpreadIt) {
  Image dot(5 * 5, 0);
  dot[2 * 5 + 2] = 255;
  EXPECT_EQ(filtered(dot, 5, 5, 1, eval::Filter::median), Image(25, 0));
  auto mean = filtered(dot, 5, 5, 1, eval::Filter::mean);
  EXPECT_EQ(mean[2 * 5 + 2], (255 + 4) / 9);  // 28 in the 3x3 block around the dot
  EXPECT_EQ(mean[1 * 5 + 1], 28);
  EXPECT_EQ(mean[0], 0);                      // two pixels away: untouched
  auto gauss = filtered(dot, 5, 5, 1, eval::Filter::gaussian);
  EXPECT_EQ(gauss[2 * 5 + 2], (255 * 4 + 8) / 16);  // centre weight 4/16: 64
  EXPECT_EQ(gauss[2 * 5 + 1], (255 * 2 + 8) / 16);  // edge neighbour 2/16: 32
  EXPECT_EQ(gauss[1 * 5 + 1], (255 + 8) / 16);      // corner neighbour 1/16: 16
}

TEST(Audit, FilterEdgesAreReplicated) {
  // 2x2 [0 90; 0 90]: at (0,0) the replicated 3x3 block holds columns 0, 0, 90 -> 270/9 = 30.
  const Image im{0, 90, 0, 90};
  EXPECT_EQ(filtered(im, 2, 2, 1, eval::Filter::mean), (Image{30, 60, 30, 60}));
  // channels are filtered on their own
  const Image two{10, 200, 10, 200, 10, 200, 10, 200};
  EXPECT_EQ(filtered(two, 2, 2, 2, eval::Filter::median), two);
}

TEST(Audit, CropOneIsTheIdentityAndCropKeepsTheShape) {
  const auto im = textured(9, 7, 3);
  EXPECT_EQ(cropped(im, 9, 7, 3, 1.0), im);
  // 4x4 with a 2x2 centre of 200: crop 0.5 keeps only the centre, resized back: all 200.
  Image centre(16, 0);
  for (int y = 1; y <= 2; ++y)
    for (int x = 1; x <= 2; ++x) centre[static_cast<std::size_t>(y * 4 + x)] = 200;
  EXPECT_EQ(cropped(centre, 4, 4, 1, 0.5), Image(16, 200));
  // bilinear with half-pixel centres: a 2-column centre [0 100] becomes 0, 25, 75, 100
  Image ramp(16, 0);
  for (int y = 0; y < 4; ++y) ramp[static_cast<std::size_t>(y * 4 + 2)] = 100, ramp[static_cast<std::size_t>(y * 4 + 3)] = 100;
  auto out = cropped(ramp, 4, 4, 1, 0.5);
  for (int y = 0; y < 4; ++y)
    EXPECT_EQ((Image{out.begin() + y * 4, out.begin() + y * 4 + 4}), (Image{0, 25, 75, 100})) << "row " << y;
}

TEST(Audit, GrayscaleIsBt601LumaInEveryChannel) {
  Image im{255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255};
  eval::grayscale_image(im.data(), 2, 2, 3);
  EXPECT_EQ(im, (Image{76, 76, 76, 150, 150, 150, 29, 29, 29, 255, 255, 255}));
  Image grey{1, 2, 3, 4};
  eval::grayscale_image(grey.data(), 2, 2, 1);
  EXPECT_EQ(grey, (Image{1, 2, 3, 4}));
}

TEST(Audit, JpegHighQualityIsCloseLowQualityFurther) {
  for (std::int64_t c : {3, 1}) {
    const auto im = textured(16, 16, c);
    auto q100 = im, q5 = im;
    eval::jpeg_image(q100.data(), 16, 16, c, 100);
    eval::jpeg_image(q5.data(), 16, 16, c, 5);
    const auto n = static_cast<std::int64_t>(im.size());
    double p100 = eval::psnr(im.data(), q100.data(), n), p5 = eval::psnr(im.data(), q5.data(), n);
    EXPECT_GT(p100, 35.0) << "channels " << c;
    EXPECT_LT(p5, p100 - 10.0) << "channels " << c;
    EXPECT_LE(eval::linf_255(im.data(), q100.data(), n), 12.0) << "channels " << c;
  }
  Image im = textured(8, 8, 3);
  EXPECT_THROW(eval::jpeg_image(im.data(), 8, 8, 3, 0), UsageError);
  EXPECT_THROW(eval::jpeg_image(im.data(), 8, 8, 3, 101), UsageError);
}

TEST(Audit, PreprocessingOrderDescriptionAndValidation) {
  eval::Preprocessing p;
  EXPECT_TRUE(p.empty());
  EXPECT_EQ(p.describe(), "none");
  p.grayscale = true;
  p.crop = 0.8;
  p.jpeg = 75;
  p.filter = eval::Filter::median;
  EXPECT_EQ(p.describe(), "filter median 3x3 (train); jpeg quality 75 (train); crop 0.8 (train, test); grayscale BT.601 luma (train, test)");
  // the test images get only crop and grayscale
  auto test = split_of({textured(8, 8, 3)}, 8, 8, 3), want = test;
  p.apply_test(test);
  eval::apply_crop(want, 0.8);
  eval::apply_grayscale(want);
  EXPECT_EQ(test.images, want.images);
  for (double bad : {0.0, -0.5, 1.01}) {
    eval::Preprocessing q;
    q.crop = bad;
    EXPECT_THROW(q.validate(), UsageError) << bad;
  }
  EXPECT_EQ(eval::parse_filter("gaussian"), eval::Filter::gaussian);
  try {
    eval::parse_filter("box");
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("--filter"), std::string::npos);
  }
}

TEST(Audit, FractionSelectionIsExactDeterministicAndSeeded) {
  auto a = eval::fraction_selection(48, 50, 0);
  EXPECT_EQ(std::accumulate(a.begin(), a.end(), 0), 24);
  EXPECT_EQ(a, eval::fraction_selection(48, 50, 0));
  EXPECT_NE(a, eval::fraction_selection(48, 50, 1));
  auto all = eval::fraction_selection(48, 100, 3);
  EXPECT_EQ(std::accumulate(all.begin(), all.end(), 0), 48);
  auto few = eval::fraction_selection(1000, 0.01, 0);  // rounds to 0 rows: at least one
  EXPECT_EQ(std::accumulate(few.begin(), few.end(), 0), 1);
  auto seven = eval::fraction_selection(7, 30, 0);  // round(2.1)
  EXPECT_EQ(std::accumulate(seven.begin(), seven.end(), 0), 2);
  EXPECT_THROW(eval::fraction_selection(10, 0, 0), UsageError);
  EXPECT_THROW(eval::fraction_selection(10, 100.5, 0), UsageError);
}

TEST(Audit, ClassListParsing) {
  EXPECT_EQ(eval::parse_class_list("2,0, 1,2", 3), (std::vector<std::int64_t>{0, 1, 2}));
  EXPECT_EQ(eval::parse_class_list("4", 5), (std::vector<std::int64_t>{4}));
  for (const char* bad : {"", "a", "1,,2", "1.5", "3", "-1", "0,x"}) EXPECT_THROW(eval::parse_class_list(bad, 3), UsageError) << bad;
}

// ---- similarity --------------------------------------------------------------------------------

TEST(Audit, SsimOfIdenticalImagesIsOneAndFallsWithNoise) {
  for (std::int64_t size : {16, 5, 1}) {
    const auto im = textured(size, size, 3);
    EXPECT_NEAR(eval::ssim(im.data(), im.data(), size, size, 3), 1.0, 1e-12) << size;
  }
  const auto im = textured(16, 16, 3);
  auto noisy = im;
  for (std::size_t i = 0; i < noisy.size(); i += 7) noisy[i] = static_cast<std::uint8_t>(noisy[i] ^ 0x20);
  double s = eval::ssim(im.data(), noisy.data(), 16, 16, 3);
  EXPECT_LT(s, 0.99);
  EXPECT_GT(s, 0.0);
  // a constant shift changes the luminance term only: 0 < SSIM < 1
  Image a(11 * 11, 100), b(11 * 11, 120);
  const double c1 = (0.01 * 255) * (0.01 * 255);
  EXPECT_NEAR(eval::ssim(a.data(), b.data(), 11, 11, 1), (2 * 100.0 * 120 + c1) / (100.0 * 100 + 120.0 * 120 + c1), 1e-9);
}

TEST(Audit, PsnrOfAKnownMseIsExact) {
  Image a(100, 50), b = a;
  EXPECT_EQ(eval::psnr(a.data(), b.data(), 100), eval::kPsnrCap);  // identical: the cap
  for (int i = 0; i < 4; ++i) b[static_cast<std::size_t>(i * 10)] = 55;  // 4 of 100 values off by 5: MSE 1
  EXPECT_NEAR(eval::psnr(a.data(), b.data(), 100), 10 * std::log10(255.0 * 255.0), 1e-12);
  std::fill(b.begin(), b.end(), 52);  // MSE 4
  EXPECT_NEAR(eval::psnr(a.data(), b.data(), 100), 10 * std::log10(255.0 * 255.0 / 4), 1e-12);
}

TEST(Audit, L0DensityAndLinf) {
  Image a(2 * 2 * 3, 10), b = a;
  b[4] = 13;   // pixel 1, channel 1: +3
  b[11] = 2;   // pixel 3, channel 2: -8
  EXPECT_DOUBLE_EQ(eval::l0_density(a.data(), b.data(), 2, 2, 3), 0.5);
  EXPECT_DOUBLE_EQ(eval::linf_255(a.data(), b.data(), 12), 8.0);
  EXPECT_DOUBLE_EQ(eval::l0_density(a.data(), a.data(), 2, 2, 3), 0.0);
}

TEST(Audit, SimilarityAggregatesRows) {
  auto im = textured(12, 12, 3);
  auto changed = im;
  changed[0] = static_cast<std::uint8_t>(changed[0] + 4);
  auto clean = split_of({im, im}, 12, 12, 3), prot = split_of({im, changed}, 12, 12, 3);
  dist::SelfCommunicator self;
  auto s = eval::similarity(clean, prot, self);
  EXPECT_EQ(s.rows, 2);
  const double p = eval::psnr(im.data(), changed.data(), 12 * 12 * 3);
  EXPECT_NEAR(s.psnr_min, p, 1e-12);
  EXPECT_NEAR(s.psnr_mean, (eval::kPsnrCap + p) / 2, 1e-12);
  EXPECT_NEAR(s.ssim_mean, (1.0 + s.ssim_min) / 2, 1e-12);
  EXPECT_LT(s.ssim_min, 1.0);
  EXPECT_NEAR(s.l0_density_mean, 0.5 / 144, 1e-15);
  EXPECT_NEAR(s.l0_density_max, 1.0 / 144, 1e-15);
  EXPECT_EQ(s.linf_max, 4.0);
  EXPECT_EQ(s.linf_mean, 2.0);
}

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
