// In-process tests of the algorithm (no salm binary): mask selection, the projection and the
// noise-file guarantees, one min-min iteration on a tiny model, the resume state's round trip
// through a checkpoint, the data-parallel step with one rank, and the model factories.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "salm/app/checkpoint_state.hpp"
#include "salm/core/options.hpp"
#include "salm/dist/communicator.hpp"
#include "salm/io/checkpoint.hpp"
#include "salm/methods/minmin.hpp"
#include "salm/methods/protect.hpp"
#include "salm/models/models.hpp"
#include "salm/models/training.hpp"
#include "test_support.hpp"
#include "tiny_protect.hpp"

using namespace salm;
using test::tiny_options;
using test::tiny_shard;

namespace {

/// The mean loss of `model` (eval mode) on x + delta.
double loss_on(models::Net& model, const methods::ShardTensors& s, const at::Tensor& delta) {
  torch::NoGradGuard ng;
  model.eval();
  return models::task_loss(model.forward(s.x + delta), s.y, s.multi_label, false).item<double>();
}

}  // namespace

// ---- the mask ---------------------------------------------------------------------------------

TEST(Mask, TopPixelsWithTiesTakeTheLowerIndexFirst) {
  // One image of 2x3 pixels: scores 5 1 5 / 3 5 0. The top 2 of three 5s: pixels 0 and 2.
  auto score = torch::tensor({5.f, 1.f, 5.f, 3.f, 5.f, 0.f}).view({1, 2, 3});
  auto m = methods::top_pixels_mask(score, 2);
  EXPECT_TRUE(torch::equal(m, torch::tensor({1, 0, 1, 0, 0, 0}, torch::kUInt8).view({1, 2, 3})));
  EXPECT_TRUE(torch::equal(methods::top_pixels_mask(score, 3),
                           torch::tensor({1, 0, 1, 0, 1, 0}, torch::kUInt8).view({1, 2, 3})));
  // All equal: the first m pixels in row-major order.
  auto flat = torch::zeros({2, 3, 3});
  auto m4 = methods::top_pixels_mask(flat, 4);
  for (int i = 0; i < 2; ++i)
    EXPECT_TRUE(torch::equal(m4[i].flatten(), torch::tensor({1, 1, 1, 1, 0, 0, 0, 0, 0}, torch::kUInt8)));
}

TEST(Mask, SizeIsKPercentRoundedUpAtLeastOnePixel) {
  ProtectOptions o;
  o.k = 10;
  EXPECT_EQ(o.mask_pixels(28 * 28), 79);  // ceil(78.4)
  o.k = 12.5;
  EXPECT_EQ(o.mask_pixels(16 * 16), 32);  // exactly 32: no rounding up past an integer
  o.k = 0.001;
  EXPECT_EQ(o.mask_pixels(16 * 16), 1);
  o.k = 100;
  EXPECT_EQ(o.mask_pixels(7 * 9), 63);
  o.k = 10;
  o.method = Method::em;  // em ignores k: every pixel
  EXPECT_EQ(o.mask_pixels(16 * 16), 256);
  EXPECT_EQ(o.effective_k(), 100);
}

// ---- the projection and the noise-file rows ---------------------------------------------------

TEST(Projection, ProtectedImagesAreRoundedScaledAndClipped) {
  auto x = torch::tensor({0.f, 0.5f, 1.f, 0.2f}).view({1, 1, 2, 2});
  auto d = torch::tensor({-0.01f, 2.0f / 255, 0.f, 0.1f / 255}).view({1, 1, 2, 2});
  auto p = methods::protected_images(x, d);  // NHWC uint8
  ASSERT_EQ(p.sizes(), (std::vector<std::int64_t>{1, 2, 2, 1}));
  EXPECT_EQ(p[0][0][0][0].item<std::uint8_t>(), 0);    // below 0 clips
  EXPECT_EQ(p[0][0][1][0].item<std::uint8_t>(), 130);  // 127.5 + 2 = 129.5 -> even 130
  EXPECT_EQ(p[0][1][0][0].item<std::uint8_t>(), 255);
  EXPECT_EQ(p[0][1][1][0].item<std::uint8_t>(), 51);   // 51.1
}

TEST(MinMin, OneIterationKeepsTheBudgetAndLowersTheSourceLoss) {
  auto s = tiny_shard();
  auto opt = tiny_options();
  opt.k = 10;
  dist::SelfCommunicator comm;
  auto model = methods::make_source_model(opt, s);
  auto r = methods::run_method(opt, s, model, comm, std::nullopt, {}, {});
  ASSERT_FALSE(r.interrupted);
  const auto& st = r.state;
  EXPECT_EQ(st.iterations_done, 1);
  EXPECT_EQ(st.pos.iteration, 1);
  EXPECT_EQ(r.seconds.noise_image_steps, 32 * opt.pgd_steps);
  EXPECT_EQ(r.seconds.train_images, 2 * 16);
  const std::int64_t m = opt.mask_pixels(16 * 16);
  // Exactly m pixels per image, shared by the channels; no noise outside them; |delta| <= eps;
  // x + delta inside [0, 1].
  EXPECT_TRUE(torch::equal(st.mask.flatten(1).sum(1).to(torch::kLong), torch::full({32}, m, torch::kLong)));
  auto outside = (st.mask == 0).unsqueeze(1).expand_as(st.delta);
  EXPECT_EQ(st.delta.masked_select(outside).abs().max().item<float>(), 0.f);
  EXPECT_LE(st.delta.abs().max().item<float>(), static_cast<float>(opt.epsilon) + 1e-7f);
  auto v = s.x + st.delta;
  EXPECT_GE(v.min().item<float>(), 0.f);
  EXPECT_LE(v.max().item<float>(), 1.f);
  EXPECT_GT(st.delta.abs().max().item<float>(), 0.f);  // it did something
  // Error-minimising: the noise lowers the source model's loss (the model the noise stage used).
  EXPECT_LT(loss_on(*model, s, st.delta), loss_on(*model, s, torch::zeros_like(st.delta)));
  // The rows written: the same noise as NHWC, and protected = round(255 (x + delta)).
  auto rows = methods::noise_rows(s, st);
  EXPECT_TRUE(torch::equal(rows.delta, st.delta.permute({0, 2, 3, 1})));
  EXPECT_TRUE(torch::equal(rows.protected_, methods::protected_images(s.x, st.delta)));
}

TEST(MinMin, EmUsesEveryPixelAndTheSameSeedGivesTheSameNoise) {
  auto s = tiny_shard(16);
  auto opt = tiny_options();
  opt.method = Method::em;
  dist::SelfCommunicator comm;
  auto a = methods::run_method(opt, s, methods::make_source_model(opt, s), comm, std::nullopt, {}, {});
  auto b = methods::run_method(opt, s, methods::make_source_model(opt, s), comm, std::nullopt, {}, {});
  EXPECT_EQ(a.state.mask.min().item<std::uint8_t>(), 1);
  EXPECT_TRUE(torch::equal(a.state.delta, b.state.delta));
  opt.seed = 1;
  auto c = methods::run_method(opt, s, methods::make_source_model(opt, s), comm, std::nullopt, {}, {});
  EXPECT_FALSE(torch::equal(a.state.delta, c.state.delta));
}

// ---- the active set -----------------------------------------------------------------------------

namespace {
std::int64_t sum_run(const methods::NoiseState& st) {
  std::int64_t n = 0;
  for (const auto& a : st.active) n += a.run;
  return n;
}
}  // namespace

TEST(ActiveSet, TheChangeRuleEndsARepeatingRowWhereItsStepsWould) {
  // Four rows of one channel, 1x2 pixels, 2 values each.
  auto t = [](std::vector<float> v) { return torch::tensor(v).view({-1, 1, 1, 2}); };
  auto prev = t({1, 1, /**/ 0, 0, /**/ 5, 5, /**/ 7, 7});
  auto cur = t({2, 2, /**/ 3, 3, /**/ 5, 6, /**/ 8, 8});
  auto next = t({2, 2, /**/ 0, 0, /**/ 5, 7, /**/ 9, 9});
  // row 0: a fixed point; row 1: a 2-cycle (0, 3, 0, 3, ...); row 2: one of two values changed
  // over two steps; row 3: still moving.
  auto values = torch::full({4}, 2.0);
  auto r = methods::settled_rows(prev, cur, true, next, values, 0.0, 3);
  EXPECT_TRUE(torch::equal(r.done, torch::tensor({true, true, false, false})));
  // Three steps left: the 2-cycle is at 3 after them (0 -> 3 -> 0 -> 3); the fixed point stays.
  EXPECT_EQ(r.final[0].flatten()[0].item<float>(), 2.f);
  EXPECT_EQ(r.final[1].flatten()[0].item<float>(), 3.f);
  r = methods::settled_rows(prev, cur, true, next, values, 0.0, 2);  // two left: back at 0
  EXPECT_EQ(r.final[1].flatten()[0].item<float>(), 0.f);
  // A share of one half lets row 2 stop too, on its newest state.
  r = methods::settled_rows(prev, cur, true, next, values, 0.5, 3);
  EXPECT_TRUE(torch::equal(r.done, torch::tensor({true, true, true, false})));
  EXPECT_EQ(r.final[2].flatten()[1].item<float>(), 7.f);
  // Without a state before, only a fixed point is known; and not even that when `cur` was not
  // reached by an ordinary step.
  r = methods::settled_rows(at::Tensor(), cur, true, next, values, 0.5, 3);
  EXPECT_TRUE(torch::equal(r.done, torch::tensor({true, false, false, false})));
  r = methods::settled_rows(at::Tensor(), cur, false, next, values, 0.5, 3);
  EXPECT_FALSE(r.done.any().item<bool>());
}

TEST(ActiveSet, RowsThatRepeatAStateStopWithTheSameNoise) {
  // A source model with zero weights gives zero input gradients: every row is a fixed point
  // after the mask's step. The exact rule (--active-change 0) stops each row at its second step
  // and leaves the noise of all steps.
  auto s = tiny_shard(32);
  auto opt = tiny_options();
  opt.init = Init::uniform;
  opt.pgd_steps = 6;
  opt.train_steps = 0;
  dist::SelfCommunicator comm;
  auto zero_model = [&] {
    auto m = methods::make_source_model(opt, s);
    torch::NoGradGuard ng;
    for (auto& p : m->parameters()) p.zero_();
    return m;
  };
  auto all = methods::run_method(opt, s, zero_model(), comm, std::nullopt, {}, {});
  opt.active_change = 0.0;
  auto act = methods::run_method(opt, s, zero_model(), comm, std::nullopt, {}, {});
  EXPECT_EQ(all.seconds.noise_image_steps, 32 * 6);
  EXPECT_EQ(act.seconds.noise_image_steps, 32 * 2);
  EXPECT_EQ(act.seconds.noise_image_steps_skipped, 32 * 4);
  EXPECT_GT(act.state.delta.abs().max().item<float>(), 0.f);
  EXPECT_TRUE(torch::equal(act.state.delta, all.state.delta));
}

TEST(ActiveSet, RowsWhoseNoiseBarelyChangesStopAndKeepTheGuarantees) {
  auto s = tiny_shard(32);
  auto opt = tiny_options();
  opt.k = 30;
  opt.max_iters = 2;
  opt.pgd_steps = 12;
  opt.step_size = opt.epsilon / 4;  // at the budget's edge in 4 steps, then mostly held there
  opt.active_change = 0.25;
  dist::SelfCommunicator comm;
  auto a = methods::run_method(opt, s, methods::make_source_model(opt, s), comm, std::nullopt, {}, {});
  auto b = methods::run_method(opt, s, methods::make_source_model(opt, s), comm, std::nullopt, {}, {});
  EXPECT_GT(a.seconds.noise_image_steps_skipped, 0);
  EXPECT_EQ(a.seconds.noise_image_steps + a.seconds.noise_image_steps_skipped, 2 * 32 * 12);
  EXPECT_TRUE(torch::equal(a.state.delta, b.state.delta));  // deterministic
  // The budget, the mask and the box hold for rows that stopped early as for the others.
  const std::int64_t m = opt.mask_pixels(16 * 16);
  EXPECT_TRUE(torch::equal(a.state.mask.flatten(1).sum(1).to(torch::kLong), torch::full({32}, m, torch::kLong)));
  auto outside = (a.state.mask == 0).unsqueeze(1).expand_as(a.state.delta);
  EXPECT_EQ(a.state.delta.masked_select(outside).abs().max().item<float>(), 0.f);
  EXPECT_LE(a.state.delta.abs().max().item<float>(), static_cast<float>(opt.epsilon) + 1e-7f);
  auto v = s.x + a.state.delta;
  EXPECT_GE(v.min().item<float>(), 0.f);
  EXPECT_LE(v.max().item<float>(), 1.f);
  // One record per noise stage, adding up to the steps run.
  ASSERT_EQ(a.state.active.size(), 2u);
  EXPECT_EQ(a.state.active[1].iteration, 2);
  EXPECT_EQ(sum_run(a.state), a.seconds.noise_image_steps);
  EXPECT_LT(a.state.active[0].active_fraction() * a.state.active[1].active_fraction(), 1.0);
}

TEST(ActiveSet, RowsBelowTheLossStopAfterTheirStep) {
  // A loss bound every row is under: each row takes the mask's step and the next one (the first
  // at which its loss is known), then stops; that is the noise of two PGD steps.
  auto s = tiny_shard(32);
  auto opt = tiny_options();
  dist::SelfCommunicator comm;
  opt.pgd_steps = 2;
  auto two = methods::run_method(opt, s, methods::make_source_model(opt, s), comm, std::nullopt, {}, {});
  opt.pgd_steps = 6;
  opt.active_loss = 1e6;
  auto cut = methods::run_method(opt, s, methods::make_source_model(opt, s), comm, std::nullopt, {}, {});
  EXPECT_EQ(cut.seconds.noise_image_steps, 2 * 32);
  EXPECT_EQ(cut.seconds.noise_image_steps_skipped, 4 * 32);
  EXPECT_TRUE(torch::equal(cut.state.delta, two.state.delta));
  ASSERT_EQ(cut.state.active.size(), 1u);
  EXPECT_DOUBLE_EQ(cut.state.active[0].active_fraction(), 2.0 / 6.0);
  // A bound no row is under leaves every step to run.
  opt.active_loss = 1e-30;
  auto none = methods::run_method(opt, s, methods::make_source_model(opt, s), comm, std::nullopt, {}, {});
  EXPECT_EQ(none.seconds.noise_image_steps_skipped, 0);
}

// ---- resume -----------------------------------------------------------------------------------

TEST(Resume, CheckpointRoundTripContinuesExactly) {
  auto s = tiny_shard(24);
  auto opt = tiny_options();
  opt.max_iters = 2;
  opt.mask_scope = MaskScope::klass;  // the class pool travels with the checkpoint too
  opt.pgd_steps = 4;
  opt.active_loss = 1.05;  // some rows stop early: the active set's counts travel too
  opt.active_change = 0.3;
  dist::SelfCommunicator comm;
  auto ref = methods::run_method(opt, s, methods::make_source_model(opt, s), comm, std::nullopt, {}, {});
  ASSERT_EQ(ref.state.active.size(), 2u);
  ASSERT_GT(ref.state.active[0].skipped + ref.state.active[1].skipped, 0) << "no row stopped: choose another bound";

  test::TempDir dir;
  io::CheckpointStore store(dir.file("ckpt"), comm);
  for (int stop_at : {1, 3, 5}) {  // in the train stage, in the noise stage, in the second iteration
    int polls = 0;
    methods::LoopHooks hooks;
    hooks.stop_requested = [&] { return ++polls >= stop_at; };
    hooks.checkpoint = [&](const methods::NoiseState& st, torch::nn::Module& m, torch::optim::SGD& sgd) {
      store.save(app::checkpoint_meta(st, "fp"), s.total_rows, 0, st.delta, st.mask, st.masked, st.class_score, m, sgd);
    };
    auto first = methods::run_method(opt, s, methods::make_source_model(opt, s), comm, std::nullopt, {}, hooks);
    ASSERT_TRUE(first.interrupted) << stop_at;
    auto meta = store.latest();
    ASSERT_TRUE(meta.has_value());
    EXPECT_EQ(meta->iteration, first.state.pos.iteration);
    EXPECT_EQ(meta->fingerprint, "fp");
    auto st = app::resume_state(store, *meta, s);
    EXPECT_TRUE(torch::equal(st.delta, first.state.delta));
    EXPECT_TRUE(torch::equal(st.mask, first.state.mask));
    EXPECT_TRUE(torch::equal(st.masked, first.state.masked));
    EXPECT_EQ(st.class_score.defined(), first.state.class_score.defined());
    if (st.class_score.defined()) EXPECT_TRUE(torch::equal(st.class_score, first.state.class_score));
    EXPECT_EQ(st.pos.iteration, first.state.pos.iteration);
    EXPECT_EQ(st.pos.stage, first.state.pos.stage);
    EXPECT_EQ(st.pos.step, first.state.pos.step);
    auto second = methods::run_method(
        opt, s, methods::make_source_model(opt, s), comm, st,
        [&](torch::nn::Module& m, torch::optim::SGD& sgd) { store.load_model(*meta, m, sgd); }, {});
    ASSERT_FALSE(second.interrupted);
    EXPECT_TRUE(torch::equal(second.state.delta, ref.state.delta)) << "stopped at poll " << stop_at;
    EXPECT_TRUE(torch::equal(second.state.mask, ref.state.mask)) << "stopped at poll " << stop_at;
    ASSERT_EQ(second.state.active.size(), ref.state.active.size());
    for (std::size_t i = 0; i < ref.state.active.size(); ++i) {
      EXPECT_EQ(second.state.active[i].run, ref.state.active[i].run) << "stopped at poll " << stop_at;
      EXPECT_EQ(second.state.active[i].skipped, ref.state.active[i].skipped) << "stopped at poll " << stop_at;
    }
    store.remove();
  }
}

// ---- the data-parallel step -------------------------------------------------------------------

TEST(DataParallelStep, OneRankStepIsThePlainSgdStepOnTheBatch) {
  auto s = tiny_shard(16);
  ProtectOptions opt = tiny_options();
  dist::SelfCommunicator comm;
  auto a = methods::make_source_model(opt, s), b = methods::make_source_model(opt, s);
  torch::optim::SGD sa(a->parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
  torch::optim::SGD sb(b->parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
  std::vector<std::int64_t> batch{3, 1, 7, 12, 5, 9};  // global row ids; this rank owns all 16
  auto r = models::data_parallel_step(
      *a, sa, batch, 0, 16, [&](const models::LocalRows& l) { return s.x.index_select(0, l.index); }, s.y, false, comm);
  EXPECT_EQ(r.rows, 6);
  // The same step by hand: the rows in ascending order, mean loss, one SGD step.
  b->train();
  sb.zero_grad();
  auto idx = torch::tensor(std::vector<std::int64_t>{1, 3, 5, 7, 9, 12});
  auto loss = models::task_loss(b->forward(s.x.index_select(0, idx)), s.y.index_select(0, idx), false, false);
  loss.backward();
  sb.step();
  EXPECT_NEAR(r.loss_sum / 6, loss.item<double>(), 1e-5);
  auto pa = a->parameters(), pb = b->parameters();
  for (std::size_t i = 0; i < pa.size(); ++i) EXPECT_TRUE(torch::allclose(pa[i], pb[i], 1e-5, 1e-6)) << i;
}

TEST(DataParallelStep, GlobalBatchesArePermutationsIndependentOfRanks) {
  auto p = models::permutation(10, 7, {1, 2});
  EXPECT_EQ(p, models::permutation(10, 7, {1, 2}));
  EXPECT_NE(p, models::permutation(10, 8, {1, 2}));
  auto sorted = p;
  std::sort(sorted.begin(), sorted.end());
  for (std::int64_t i = 0; i < 10; ++i) EXPECT_EQ(sorted[static_cast<std::size_t>(i)], i);
  EXPECT_EQ(models::local_rows({9, 2, 5, 4}, 3, 4), (std::vector<std::int64_t>{1, 2}));  // rows 4 and 5 of [3, 7)
}

// ---- the models -------------------------------------------------------------------------------

TEST(Models, FactoriesGiveTheKnownArchitectures) {
  struct Case {
    const char* name;
    std::int64_t channels, size, classes, parameters;
  };
  // Reference counts: the CIFAR-style ResNet-18/50 and VGG-11-BN of the literature's 32x32
  // models (11,173,962; 23,520,842; 9,231,114 for 10 classes), torchvision's ImageNet ResNet-18
  // (11,689,512 for 1,000 classes), and the small CNN counted by hand.
  const std::vector<Case> cases{{"resnet18", 3, 28, 10, 11173962}, {"resnet50", 3, 28, 10, 23520842},
                                {"vgg11", 3, 28, 10, 9231114},     {"resnet18", 3, 224, 1000, 11689512},
                                {"small-cnn", 3, 28, 10, 896 + 64 + 18496 + 128 + 10250},
                                {"small-cnn", 1, 16, 2, 320 + 64 + 18496 + 128 + 2050}};
  for (const auto& c : cases) {
    torch::manual_seed(0);
    auto m = models::make_model({c.name, c.channels, c.size, c.classes});
    EXPECT_EQ(models::parameter_count(*m), c.parameters) << c.name << " " << c.size;
    if (c.size > 64) continue;
    m->eval();
    torch::NoGradGuard ng;
    auto out = m->forward(torch::rand({2, c.channels, c.size, c.size}));
    EXPECT_EQ(out.sizes(), (std::vector<std::int64_t>{2, c.classes})) << c.name;
  }
  auto dn = models::make_model({"densenet121", 1, 28, 4});
  EXPECT_EQ(dn->forward(torch::rand({2, 1, 28, 28})).size(1), 4);
  EXPECT_THROW(models::make_model({"alexnet", 3, 28, 10}), UsageError);
  EXPECT_THROW(models::make_model({"densenet121", 3, 4, 10}), UsageError);
  // Seeded initialisation is reproducible.
  torch::manual_seed(3);
  auto a = models::make_model({"small-cnn", 3, 16, 3});
  torch::manual_seed(3);
  auto b = models::make_model({"small-cnn", 3, 16, 3});
  EXPECT_TRUE(torch::equal(a->parameters()[0], b->parameters()[0]));
}
