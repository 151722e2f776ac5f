#include "salm/methods/baselines.hpp"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <numeric>

#include <ATen/CPUGeneratorImpl.h>
#include <spdlog/spdlog.h>

#include "salm/core/error.hpp"
#include "salm/core/progress.hpp"
#include "salm/core/rng.hpp"
#include "salm/models/device.hpp"
#include "salm/models/training.hpp"

namespace salm::methods {
namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

at::Generator generator(std::uint64_t seed) { return at::make_generator<at::CPUGeneratorImpl>(seed); }

/// A result with every row's noise and mask set and nothing else to resume; `delta` and `mask` may
/// have been drawn on the host: they join the shard on its device.
LoopResult finished(const at::Tensor& delta, const at::Tensor& mask, const ShardTensors& shard) {
  LoopResult r;
  const auto d = shard.x.device();
  r.state.delta = ((shard.x + delta.to(d)).clamp(0, 1) - shard.x).contiguous();  // x+delta stays in [0,1]
  r.state.mask = mask.to(d);
  r.state.masked = torch::ones({shard.x.size(0)}, shard.x.options().dtype(torch::kUInt8));
  return r;
}

/// The host copy of the shard's images' shape, for noise drawn on the host with CPU generators
/// (the same draws on every device).
at::Tensor host_zeros(const ShardTensors& s) { return torch::zeros(s.x.sizes(), torch::kFloat); }

LoopResult random_noise(const ProtectOptions& opt, const ShardTensors& s) {
  auto t0 = Clock::now();
  const std::int64_t n = s.x.size(0), h = s.x.size(2), w = s.x.size(3);
  auto delta = host_zeros(s);
  auto mask = torch::ones({n, h, w}, torch::kUInt8);
  const std::int64_t m = opt.mask_pixels(h * w);
  for (std::int64_t i = 0; i < n; ++i) {  // every row its own stream: the same for any number of ranks
    auto gen = generator(derive_seed(opt.seed, {hash_name("random"), static_cast<std::uint64_t>(s.row_begin + i)}));
    delta[i].uniform_(-opt.epsilon, opt.epsilon, gen);
    if (m < h * w) mask[i] = top_pixels_mask(torch::rand({1, h, w}, gen), m)[0];
  }
  delta.mul_(mask.unsqueeze(1).to(torch::kFloat));
  auto r = finished(delta, mask, s);
  r.seconds.noise_stage = since(t0);
  return r;
}

/// The class id of a row for class-wise noise: its class, or for multi-label data the pattern of
/// its labels read as a binary number (rows with the same labels share a cluster).
std::vector<std::uint64_t> clusters_of(const ShardTensors& s) {
  auto y = s.y.to(torch::kCPU).to(torch::kLong).contiguous();  // one copy to the host
  const std::int64_t n = y.size(0), labels = s.multi_label ? y.size(1) : 1;
  const auto* p = y.data_ptr<std::int64_t>();
  std::vector<std::uint64_t> out(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    std::uint64_t id = 0;
    if (!s.multi_label) id = static_cast<std::uint64_t>(p[i]);
    else
      for (std::int64_t l = 0; l < labels; ++l) id = id * 2 + static_cast<std::uint64_t>(p[i * labels + l]);
    out[static_cast<std::size_t>(i)] = id;
  }
  return out;
}

LoopResult synthetic_shortcut(const ProtectOptions& opt, const ShardTensors& s) {
  auto t0 = Clock::now();
  const std::int64_t n = s.x.size(0), c = s.x.size(1), h = s.x.size(2), w = s.x.size(3);
  // A patch of up to 8x8 cells per channel; each cell covers a block of about H/8 x W/8 pixels.
  const std::int64_t ph = std::min<std::int64_t>(8, h), pw = std::min<std::int64_t>(8, w);
  auto delta = host_zeros(s);
  const auto clusters = clusters_of(s);
  for (std::int64_t i = 0; i < n; ++i) {
    std::uint64_t cls = clusters[static_cast<std::size_t>(i)];
    auto centre_gen = generator(derive_seed(opt.seed, {hash_name("sp-centre"), cls}));
    auto centre = torch::randn({1, c, ph, pw}, centre_gen);
    auto row_gen = generator(derive_seed(opt.seed, {hash_name("sp-row"), static_cast<std::uint64_t>(s.row_begin + i)}));
    auto z = centre + 0.1 * torch::randn({1, c, ph, pw}, row_gen);  // a sample of the class's cluster
    auto up = torch::nn::functional::interpolate(
        z, torch::nn::functional::InterpolateFuncOptions().size(std::vector<std::int64_t>{h, w}).mode(torch::kNearest));
    // The energy of a full +-eps pattern (Yu et al. project onto that L2 ball), kept inside the
    // L-inf budget by clipping: most values end at +-eps, the class's sign pattern.
    delta[i] = (up[0] / up.pow(2).mean().sqrt().clamp_min(1e-12) * opt.epsilon).clamp(-opt.epsilon, opt.epsilon);
  }
  auto r = finished(delta, torch::ones({n, h, w}, torch::kUInt8), s);
  r.seconds.noise_stage = since(t0);
  return r;
}

LoopResult targeted_poisoning(const ProtectOptions& opt, const ShardTensors& s, models::Net& model,
                              dist::Communicator& comm, const LoopHooks& hooks) {
  LoopResult r;
  const bool root = comm.rank() == 0;
  auto stop_now = [&] {
    std::int64_t want = hooks.stop_requested && hooks.stop_requested() ? 1 : 0;
    return comm.allreduce_scalar(want, dist::ReduceOp::max) > 0;
  };
  models::broadcast_model(model, comm);
  // 1. The source model, trained on the clean rows: train-steps x max-iters global batches.
  auto t0 = Clock::now();
  torch::optim::SGD sgd(model.parameters(),
                        torch::optim::SGDOptions(opt.lr).momentum(opt.momentum).weight_decay(opt.weight_decay));
  const std::int64_t steps = static_cast<std::int64_t>(opt.train_steps) * opt.max_iters;
  const std::int64_t b = std::min<std::int64_t>(opt.batch_size, s.total_rows);
  for (std::int64_t t = 0; t < steps; ++t) {
    auto order = models::permutation(s.total_rows, opt.seed, {hash_name("tap-batch"), static_cast<std::uint64_t>(t)});
    order.resize(static_cast<std::size_t>(b));
    auto step = models::data_parallel_step(
        model, sgd, order, s.row_begin, s.x.size(0), [&](const models::LocalRows& l) { return s.x.index_select(0, l.index); },
        s.y, s.multi_label, comm, opt.precision);
    r.seconds.train_images += step.rows;
    r.seconds.communication += step.communication;
    if (stop_now()) {
      r.interrupted = true;
      return r;
    }
  }
  r.seconds.train_stage = since(t0);

  // 2. Targeted PGD towards the next class, parameters frozen, eval mode.
  t0 = Clock::now();
  model.eval();
  for (auto& p : model.parameters()) p.requires_grad_(false);
  auto delta = torch::zeros_like(s.x);
  Progress progress("tap: targeted PGD", s.total_rows * opt.pgd_steps, "image-steps", root, 10.0);
  const std::int64_t largest = (s.total_rows + comm.size() - 1) / comm.size();
  const std::int64_t nb = opt.noise_batch();
  const std::int64_t batches = (largest + nb - 1) / nb;  // the same on every rank
  for (std::int64_t bi = 0; bi < batches; ++bi) {
    std::int64_t begin = std::min(s.x.size(0), bi * nb), end = std::min(s.x.size(0), begin + nb);
    if (begin < end) {
      auto xb = s.x.narrow(0, begin, end - begin), yb = s.y.narrow(0, begin, end - begin);
      auto target = s.multi_label ? 1.0 - yb : (yb + 1) % s.num_classes;
      auto db = torch::zeros_like(xb);
      for (int k = 0; k < opt.pgd_steps; ++k) {
        auto xin = (xb + db).detach().requires_grad_(true);
        at::Tensor loss;
        {
          models::PrecisionScope amp(xb.device(), opt.precision);
          loss = models::task_loss(model.forward(xin), target, s.multi_label, false);
        }
        auto g = torch::autograd::grad({loss}, {xin})[0];
        db = (db - opt.step_size * g.sign()).clamp(-opt.epsilon, opt.epsilon);
        db = (xb + db).clamp(0, 1) - xb;
      }
      delta.narrow(0, begin, end - begin).copy_(db);
      r.seconds.noise_image_steps += (end - begin) * opt.pgd_steps;
    }
    progress.advance(std::min(nb * comm.size(), s.total_rows) * opt.pgd_steps);
    if (stop_now()) {
      r.interrupted = true;
      return r;
    }
  }
  for (auto& p : model.parameters()) p.requires_grad_(true);
  r.seconds.noise_stage = since(t0);

  // 3. How well the source model does on the clean rows (the report's train accuracy).
  double sums[3] = {0, 0, 0};
  {
    torch::NoGradGuard ng;
    for (std::int64_t begin = 0; begin < s.x.size(0); begin += opt.batch_size) {
      auto len = std::min(opt.batch_size, s.x.size(0) - begin);
      auto logits = model.forward(s.x.narrow(0, begin, len));
      auto y = s.y.narrow(0, begin, len);
      sums[0] += models::count_correct(logits, y, s.multi_label);
      sums[1] += static_cast<double>(len);
      sums[2] += models::task_loss(logits, y, s.multi_label, true).item<double>();
    }
  }
  comm.allreduce(sums, 3);
  auto out = finished(delta, torch::ones({s.x.size(0), s.x.size(2), s.x.size(3)}, torch::kUInt8), s);
  out.seconds = r.seconds;
  out.state.train_acc = sums[1] > 0 ? sums[0] / sums[1] : 0;
  out.state.train_loss = sums[1] > 0 ? sums[2] / sums[1] : 0;
  out.state.iterations_done = opt.max_iters;
  if (root)
    spdlog::info("tap: source model accuracy on the clean rows {:.2f}% after {} steps", 100 * out.state.train_acc, steps);
  return out;
}

}  // namespace

LoopResult run_baseline(const ProtectOptions& opt, const ShardTensors& shard, std::shared_ptr<models::Net> model,
                        dist::Communicator& comm, const LoopHooks& hooks) {
  if (opt.method == Method::random) return random_noise(opt, shard);
  if (opt.method == Method::sp) return synthetic_shortcut(opt, shard);
  if (opt.method == Method::tap) {
    SALM_CHECK(model != nullptr, "tap needs a source model");
    return targeted_poisoning(opt, shard, *model, comm, hooks);
  }
  throw UsageError("--method: '" + opt::to_string(opt.method) + "' is not a baseline");
}

}  // namespace salm::methods
