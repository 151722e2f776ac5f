/// How far protected images are from the clean ones: what a data owner checks before publishing
/// (the images must stay clinically usable). Per image, on uint8 NHWC images:
///   SSIM  Wang et al. 2004: Gaussian window 11x11, sigma 1.5 (images smaller than 11 px: the
///         largest odd window that fits, same sigma), C1 = (0.01*255)^2, C2 = (0.03*255)^2, mean
///         of the SSIM map over the window positions inside the image ("valid"), mean over channels;
///   PSNR  10 log10(255^2 / MSE) in dB over all values; identical images (MSE 0, infinite PSNR)
///         get kPsnrCap, and every PSNR is capped there, so means stay finite;
///   L0    fraction of pixels (H*W positions) where any channel differs;
///   L-inf the largest |difference| of any value, in 1/255 units (0..255).
/// Pure C++, no Torch.
#pragma once

#include <cstdint>

#include "salm/data/dataset.hpp"
#include "salm/dist/communicator.hpp"

namespace salm::eval {

/// PSNR reported for identical images, and the cap of every PSNR (dB). Above what any one-level
/// change gives for images up to 224x224x3 (99.9 dB).
inline constexpr double kPsnrCap = 100.0;

double ssim(const std::uint8_t* a, const std::uint8_t* b, std::int64_t height, std::int64_t width, std::int64_t channels);
double psnr(const std::uint8_t* a, const std::uint8_t* b, std::int64_t elems);
double l0_density(const std::uint8_t* a, const std::uint8_t* b, std::int64_t height, std::int64_t width,
                  std::int64_t channels);
double linf_255(const std::uint8_t* a, const std::uint8_t* b, std::int64_t elems);

/// Aggregates over every row of a split (all ranks).
struct Similarity {
  std::int64_t rows = 0;
  double ssim_mean = 0, ssim_min = 0;
  double psnr_mean = 0, psnr_min = 0;
  double l0_density_mean = 0, l0_density_max = 0;
  double linf_mean = 0, linf_max = 0;  ///< 1/255 units
};

/// Compares this rank's rows of `clean` with the same rows of `protected_` (same shape and rows)
/// and reduces over the ranks of `comm` (collective: every rank calls it, with its own rows,
/// possibly none). Every rank gets the result.
Similarity similarity(const data::SplitData& clean, const data::SplitData& protected_, dist::Communicator& comm);

}  // namespace salm::eval
