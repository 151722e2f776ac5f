/// Plain option structs, parsed once by the CLI and passed explicitly to the modules.
#pragma once

#include <cstdint>
#include <string>

namespace salm {

/// `salm protect`: the min-min loop and its budget (DESIGN.md section 2).
struct ProtectOptions {
  std::string method = "salm";       ///< salm (masked), em (k = 100, no mask); baselines random, sp, tap
  double k = 10.0;                   ///< percent of pixels perturbed per image
  double epsilon = 8.0 / 255.0;      ///< L-inf budget, [0,1] units
  double step_size = 0.8 / 255.0;    ///< PGD step, [0,1] units
  int pgd_steps = 20;
  int train_steps = 10;              ///< source-model SGD steps per outer iteration
  int max_iters = 10;                ///< outer iterations
  int reinit_every = 0;              ///< fresh source model (and optimiser) every N iterations (0: never)
  double stop_acc = 0.99;            ///< stop when train accuracy on x+delta reaches this (0: never)
  std::string model = "resnet18";
  std::int64_t batch_size = 128;     ///< global, the same for any number of ranks
  double lr = 0.1, momentum = 0.9, weight_decay = 5e-4;
  std::string mask_update = "every"; ///< every | once
  std::string mask_score = "gradient"; ///< gradient (paper) | feasible (only steps that can be applied)
  std::string mask_scope = "sample";   ///< sample (each image its own top pixels) | class (pooled per class)
  std::string init = "zero";         ///< zero | uniform | class | texture (class-consistent starts)
  int eot_samples = 1;               ///< J transformations per gradient
  std::string eot_transforms = "none"; ///< none | flip-crop
  std::uint64_t seed = 0;
  std::int64_t subset = 0;           ///< protect only the first N rows (0: all)
  std::string split = "train";

  /// Throws UsageError naming the option for a value outside its domain.
  void validate() const;
  /// Whether the method perturbs only k% of the pixels (salm, random); the others use all of them.
  bool masked() const { return method == "salm" || method == "random"; }
  /// Whether the method is the min-min loop (salm, em), which checkpoints and resumes.
  bool min_min() const { return method == "salm" || method == "em"; }
  /// Pixels per image in the mask for an image of `pixels` pixels: ceil(k/100 * pixels).
  std::int64_t mask_pixels(std::int64_t pixels) const;
};

}  // namespace salm
