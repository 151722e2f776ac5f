/// Plain option structs, parsed once by the CLI and passed explicitly to the modules. Each lists
/// its options once, in `fields` (core/option_table.hpp): the command line, INI files, the
/// environment, validation, the checkpoint fingerprint, file attributes and reports all read
/// that table.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "salm/core/option_table.hpp"

namespace salm {

/// `--method`: SALM (masked min-min), EM (min-min on the whole image), or a baseline.
enum class Method { salm, em, tap, sp, random };
/// `--mask-update`: recompute the mask at every noise stage (Algorithm 1) or fix it after the first.
enum class MaskUpdate { every, once };
/// `--mask-score`: |g| summed over channels (the paper), or only the part of a step that can be applied.
enum class MaskScore { gradient, feasible };
/// `--mask-scope`: each image's own top pixels, or its class's pooled importance.
enum class MaskScope { sample, klass };
/// `--init`: the noise a row starts from.
enum class Init { zero, uniform, klass, texture };
/// `--eot-transforms` and `--augment`: no transformation, or random flip + 2-pixel crop.
enum class Augment { none, flip_crop };
/// `--optimizer` of a victim.
enum class Optimizer { sgd, adam };
/// `--precision` of the source model's and the victims' arithmetic on a GPU: fp32, fp32 with TF32
/// matrix products, or bfloat16 autocast. The CPU computes in fp32.
enum class Precision { fp32, tf32, bf16 };

namespace opt {
template <> struct EnumNames<Method> {
  static const std::vector<std::pair<Method, const char*>>& values();
};
template <> struct EnumNames<MaskUpdate> {
  static const std::vector<std::pair<MaskUpdate, const char*>>& values();
};
template <> struct EnumNames<MaskScore> {
  static const std::vector<std::pair<MaskScore, const char*>>& values();
};
template <> struct EnumNames<MaskScope> {
  static const std::vector<std::pair<MaskScope, const char*>>& values();
};
template <> struct EnumNames<Init> {
  static const std::vector<std::pair<Init, const char*>>& values();
};
template <> struct EnumNames<Augment> {
  static const std::vector<std::pair<Augment, const char*>>& values();
};
template <> struct EnumNames<Optimizer> {
  static const std::vector<std::pair<Optimizer, const char*>>& values();
};
template <> struct EnumNames<Precision> {
  static const std::vector<std::pair<Precision, const char*>>& values();
};
}  // namespace opt

/// `salm protect`: the min-min loop and its budget (DESIGN.md section 2).
struct ProtectOptions {
  Method method = Method::salm;
  double k = 10.0;                   ///< percent of pixels perturbed per image
  double epsilon = 8.0 / 255.0;      ///< L-inf budget, [0,1] units
  double step_size = 0.8 / 255.0;    ///< PGD step, [0,1] units
  int pgd_steps = 20;
  int train_steps = 10;              ///< source-model SGD steps per outer iteration
  int max_iters = 10;                ///< outer iterations
  double stop_acc = 0.99;            ///< stop when train accuracy on x+delta reaches this (0: never)
  int reinit_every = 0;              ///< fresh source model (and optimiser) every N iterations (0: never)
  std::string model = "resnet18";
  std::int64_t batch_size = 128;     ///< global, the same for any number of ranks
  double lr = 0.1, momentum = 0.9, weight_decay = 5e-4;
  MaskUpdate mask_update = MaskUpdate::every;
  MaskScore mask_score = MaskScore::gradient;
  MaskScope mask_scope = MaskScope::sample;
  Init init = Init::zero;
  int eot_samples = 1;               ///< J transformations per gradient
  Augment eot_transforms = Augment::none;
  std::uint64_t seed = 0;
  std::int64_t subset = 0;           ///< protect only the first N rows (0: all)
  std::string split = "train";
  std::int64_t noise_batch_size = 0; ///< rows per noise batch on each rank (0: batch_size)
  Precision precision = Precision::fp32;
  // The active set of the noise stage: rows that are done stop taking PGD steps.
  std::optional<double> active_change;  ///< stop once at most this share of a row's noise changed in two steps
  double active_loss = 0;            ///< stop once a row's loss on x+delta is below this (0: off)
  // The closed loop (--target-val-acc): the owner's val split judges the release during the run.
  double target_val_acc = 0;         ///< stop once a fresh victim is at or below this on val (0: off)
  int check_every = 1;               ///< iterations between two val checks
  std::string check_model = "small-cnn";
  int check_epochs = 5;
  Optimizer check_optimizer = Optimizer::adam;
  Augment check_augment = Augment::none;

  /// The table of options (see option_table.hpp), in help order.
  template <class Self, class V>
  static void fields(Self& o, V&& v) {
    using opt::field;
    v(field("method", o.method,
            "salm (masked), em (whole image, no mask), or a baseline: tap (targeted poisoning), sp (synthetic "
            "shortcuts), random (uniform noise on a random k% mask)"));
    v(field("k", o.k, "percent of pixels perturbed per image (salm), in (0, 100]").above(0).at_most(100));
    v(field("epsilon", o.epsilon, "L-inf budget in 1/255 units").unit(255).above(0).at_most(255));
    v(field("step-size", o.step_size, "PGD step in 1/255 units").unit(255).above(0));
    v(field("pgd-steps", o.pgd_steps, "PGD steps per sample per noise stage").at_least(1));
    v(field("train-steps", o.train_steps, "source-model SGD steps per outer iteration").at_least(0));
    v(field("max-iters", o.max_iters, "outer iterations (train stage + noise stage)").at_least(1));
    v(field("stop-acc", o.stop_acc, "stop once train accuracy on x+delta reaches this (0: never)").in(0, 1));
    v(field("reinit-every", o.reinit_every,
            "start every N-th iteration from a freshly initialised source model and optimiser, so that the noise "
            "must be learnable from scratch (0: never, the paper)")
          .at_least(0));
    v(field("model", o.model, "source model: resnet18, resnet50, vgg11, densenet121, small-cnn"));
    v(field("batch-size", o.batch_size, "global train batch (any number of ranks); noise batch per rank").at_least(1));
    v(field("lr", o.lr, "source-model SGD learning rate").above(0));
    v(field("momentum", o.momentum, "SGD momentum").at_least(0).below(1));
    v(field("weight-decay", o.weight_decay, "SGD weight decay").at_least(0));
    v(field("mask-update", o.mask_update, "every (recompute each noise stage) or once"));
    v(field("mask-score", o.mask_score,
            "gradient (|g| summed over channels, the paper) or feasible (only the part of the step that can be applied)"));
    v(field("mask-scope", o.mask_scope,
            "sample (each image's own top pixels, the paper) or class (the top pixels of its class's pooled importance)"));
    v(field("init", o.init,
            "initial noise: zero, uniform, class (one random pattern per class) or texture (one stripe texture per class)"));
    v(field("eot-samples", o.eot_samples, "J transformations averaged per gradient").at_least(1));
    v(field("eot-transforms", o.eot_transforms, "none or flip-crop"));
    v(field("seed", o.seed, "seed (same seed and ranks: bit-identical noise file)"));
    v(field("subset", o.subset, "protect only the first N rows (0: all)").at_least(0));
    v(field("split", o.split, "split to protect: train, val or test"));
    v(field("noise-batch-size", o.noise_batch_size,
            "rows per noise batch on each rank (0: --batch-size); larger batches use a GPU better")
          .at_least(0));
    v(field("precision", o.precision,
            "arithmetic on a GPU: fp32, tf32 (TF32 matrix products) or bf16 (bfloat16 autocast); the CPU computes in fp32"));
    v(field("active-change", o.active_change,
            "active set: a row stops its PGD steps in a noise stage once at most this share of its noise values changed "
            "over the last two steps (0: only a row that repeats a state, which can only cycle from there and ends "
            "where its remaining steps would: the same noise, exact without --eot-transforms; absent: off)")
          .in(0, 1));
    v(field("active-loss", o.active_loss,
            "active set: a row stops its PGD steps in a noise stage once its loss on x+delta is below this (0: off)")
          .at_least(0));
    v(field("target-val-acc", o.target_val_acc,
            "closed loop: every --check-every iterations a fresh victim is trained on the protected rows and tested "
            "on the clean val split; the run stops once it is at or below this, and ends with exit 4 (release NOT "
            "protected to the target) if it never is (0: off; then --stop-acc decides)")
          .in(0, 1));
    v(field("check-every", o.check_every, "iterations between two val checks of --target-val-acc").at_least(1));
    v(field("check-model", o.check_model, "the val check's victim: resnet18, resnet50, vgg11, densenet121, small-cnn"));
    v(field("check-epochs", o.check_epochs, "epochs of the val check's victim").at_least(1));
    v(field("check-optimizer", o.check_optimizer, "optimiser of the val check's victim: adam or sgd"));
    v(field("check-augment", o.check_augment,
            "augmentation of the val check's victim's training: none or flip-crop (a victim that augments resists "
            "noise at fixed pixels)"));
  }

  /// Throws UsageError naming the option for a value outside its domain.
  void validate() const;
  /// Whether the method perturbs only k% of the pixels (salm, random); the others use all of them.
  bool masked() const { return method == Method::salm || method == Method::random; }
  /// Whether the method is the min-min loop (salm, em), which checkpoints and resumes.
  bool min_min() const { return method == Method::salm || method == Method::em; }
  /// The percentage of pixels the method may change: k, or 100 for the unmasked methods.
  double effective_k() const { return masked() ? k : 100.0; }
  /// Pixels per image in the mask for an image of `pixels` pixels: ceil(k/100 * pixels).
  std::int64_t mask_pixels(std::int64_t pixels) const;
  /// Whether the closed loop (--target-val-acc) decides when the run stops.
  bool closed_loop() const { return target_val_acc > 0; }
  /// Rows per noise batch: noise_batch_size, or batch_size when it is 0.
  std::int64_t noise_batch() const { return noise_batch_size > 0 ? noise_batch_size : batch_size; }
};

/// `salm evaluate`: the victim an unauthorised user would train.
struct VictimOptions {
  std::string model = "resnet18";
  int epochs = 15;
  std::int64_t batch_size = 128;     ///< global
  double lr = 0.0;                   ///< 0: 0.1 for sgd, 1e-3 for adam
  Optimizer optimizer = Optimizer::sgd;  ///< sgd: momentum 0.9, weight decay 5e-4; both with a cosine schedule
  Augment augment = Augment::none;
  std::uint64_t seed = 0;
  Precision precision = Precision::fp32;

  template <class Self, class V>
  static void fields(Self& o, V&& v) {
    using opt::field;
    v(field("model", o.model, "victim model: resnet18, resnet50, vgg11, densenet121, small-cnn"));
    v(field("epochs", o.epochs, "training epochs").at_least(1));
    v(field("batch-size", o.batch_size, "global batch size").at_least(1));
    v(field("lr", o.lr, "learning rate (0: 0.1 for sgd, 0.001 for adam), cosine schedule").at_least(0));
    v(field("optimizer", o.optimizer, "sgd (momentum 0.9, weight decay 5e-4) or adam"));
    v(field("augment", o.augment, "none or flip-crop"));
    v(field("seed", o.seed, "seed of the victim's initialisation and batches (and of --fraction's rows)"));
    v(field("precision", o.precision,
            "arithmetic on a GPU: fp32, tf32 (TF32 matrix products) or bf16 (bfloat16 autocast); the CPU computes in fp32"));
  }

  void validate() const { opt::validate_fields(*this); }
  double learning_rate() const { return lr > 0 ? lr : (optimizer == Optimizer::adam ? 1e-3 : 0.1); }
};

}  // namespace salm
