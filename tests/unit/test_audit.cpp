// The robustness audit's pieces in-process: the preprocessing transforms and similarity metrics on
// hand-made images with values worked out by hand, partial protection's row selection and class
// lists. (salm evaluate with every audit option: tests/e2e/test_audit.cpp.)
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <sstream>

#include "salm/core/error.hpp"
#include "salm/dist/communicator.hpp"
#include "salm/eval/similarity.hpp"
#include "salm/data/transforms.hpp"
#include "salm/eval/audit.hpp"
#include "test_support.hpp"

using namespace salm;

namespace {

using Image = std::vector<std::uint8_t>;

Image filtered(const Image& in, std::int64_t h, std::int64_t w, std::int64_t c, data::Filter f) {
  Image out(in.size());
  data::filter_image(in.data(), out.data(), h, w, c, f);
  return out;
}

Image cropped(const Image& in, std::int64_t h, std::int64_t w, std::int64_t c, double fraction) {
  Image out(in.size());
  data::crop_resize_image(in.data(), out.data(), h, w, c, fraction);
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

}  // namespace

// ---- transforms --------------------------------------------------------------------------------

TEST(Audit, FiltersOfAConstantImageKeepIt) {
  const Image flat(5 * 4 * 3, 7);
  for (auto f : {data::Filter::mean, data::Filter::median, data::Filter::gaussian, data::Filter::none})
    EXPECT_EQ(filtered(flat, 5, 4, 3, f), flat) << opt::to_string(f);
}

TEST(Audit, MedianRemovesAnIsolatedBrightPixelMeanAndGaussianSpreadIt) {
  Image dot(5 * 5, 0);
  dot[2 * 5 + 2] = 255;
  EXPECT_EQ(filtered(dot, 5, 5, 1, data::Filter::median), Image(25, 0));
  auto mean = filtered(dot, 5, 5, 1, data::Filter::mean);
  EXPECT_EQ(mean[2 * 5 + 2], (255 + 4) / 9);  // 28 in the 3x3 block around the dot
  EXPECT_EQ(mean[1 * 5 + 1], 28);
  EXPECT_EQ(mean[0], 0);                      // two pixels away: untouched
  auto gauss = filtered(dot, 5, 5, 1, data::Filter::gaussian);
  EXPECT_EQ(gauss[2 * 5 + 2], (255 * 4 + 8) / 16);  // centre weight 4/16: 64
  EXPECT_EQ(gauss[2 * 5 + 1], (255 * 2 + 8) / 16);  // edge neighbour 2/16: 32
  EXPECT_EQ(gauss[1 * 5 + 1], (255 + 8) / 16);      // corner neighbour 1/16: 16
}

TEST(Audit, FilterEdgesAreReplicated) {
  // 2x2 [0 90; 0 90]: at (0,0) the replicated 3x3 block holds columns 0, 0, 90 -> 270/9 = 30.
  const Image im{0, 90, 0, 90};
  EXPECT_EQ(filtered(im, 2, 2, 1, data::Filter::mean), (Image{30, 60, 30, 60}));
  // channels are filtered on their own
  const Image two{10, 200, 10, 200, 10, 200, 10, 200};
  EXPECT_EQ(filtered(two, 2, 2, 2, data::Filter::median), two);
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
  data::grayscale_image(im.data(), 2, 2, 3);
  EXPECT_EQ(im, (Image{76, 76, 76, 150, 150, 150, 29, 29, 29, 255, 255, 255}));
  Image grey{1, 2, 3, 4};
  data::grayscale_image(grey.data(), 2, 2, 1);
  EXPECT_EQ(grey, (Image{1, 2, 3, 4}));
}

TEST(Audit, JpegHighQualityIsCloseLowQualityFurther) {
  for (std::int64_t c : {3, 1}) {
    const auto im = textured(16, 16, c);
    auto q100 = im, q5 = im;
    data::jpeg_image(q100.data(), 16, 16, c, 100);
    data::jpeg_image(q5.data(), 16, 16, c, 5);
    const auto n = static_cast<std::int64_t>(im.size());
    double p100 = eval::psnr(im.data(), q100.data(), n), p5 = eval::psnr(im.data(), q5.data(), n);
    EXPECT_GT(p100, 35.0) << "channels " << c;
    EXPECT_LT(p5, p100 - 10.0) << "channels " << c;
    EXPECT_LE(eval::linf_255(im.data(), q100.data(), n), 12.0) << "channels " << c;
  }
  Image im = textured(8, 8, 3);
  EXPECT_THROW(data::jpeg_image(im.data(), 8, 8, 3, 0), UsageError);
  EXPECT_THROW(data::jpeg_image(im.data(), 8, 8, 3, 101), UsageError);
}

TEST(Audit, PreprocessingOrderDescriptionAndValidation) {
  data::Preprocessing p;
  EXPECT_TRUE(p.empty());
  EXPECT_EQ(p.describe(), "none");
  p.grayscale = true;
  p.crop = 0.8;
  p.jpeg = 75;
  p.filter = data::Filter::median;
  EXPECT_EQ(p.describe(), "filter median 3x3 (train); jpeg quality 75 (train); crop 0.8 (train, test); grayscale BT.601 luma (train, test)");
  // the test images get only crop and grayscale
  auto test = split_of({textured(8, 8, 3)}, 8, 8, 3), want = test;
  p.apply_test(test);
  data::apply_crop(want, 0.8);
  data::apply_grayscale(want);
  EXPECT_EQ(test.images, want.images);
  for (double bad : {0.0, -0.5, 1.01}) {
    data::Preprocessing q;
    q.crop = bad;
    EXPECT_THROW(q.validate(), UsageError) << bad;
  }
  EXPECT_EQ(opt::parse<data::Filter>("filter", "gaussian"), data::Filter::gaussian);
  try {
    opt::parse<data::Filter>("filter", "box");
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
