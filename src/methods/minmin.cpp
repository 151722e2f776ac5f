#include "salm/methods/minmin.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <numeric>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "salm/core/error.hpp"
#include "salm/core/progress.hpp"
#include "salm/core/rng.hpp"
#include "salm/data/tensors.hpp"
#include "salm/methods/protect.hpp"
#include "salm/models/device.hpp"
#include "salm/models/training.hpp"

namespace salm::methods {
namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::uint64_t key(const char* name) { return hash_name(name); }

}  // namespace

at::Tensor protected_images(const at::Tensor& x, const at::Tensor& delta) {
  return (x + delta).mul(255.0).round().clamp(0, 255).to(torch::kUInt8).permute({0, 2, 3, 1}).contiguous();
}

at::Tensor top_pixels_mask(const at::Tensor& score, std::int64_t m) {
  auto n = score.size(0);
  auto flat = score.reshape({n, -1});
  // Stable descending sort: among equal scores the lower pixel index comes first.
  auto order = std::get<1>(flat.sort(/*stable=*/true, /*dim=*/1, /*descending=*/true));
  auto mask = torch::zeros_like(flat, torch::kUInt8);
  mask.scatter_(1, order.narrow(1, 0, m), 1);
  return mask.view(score.sizes());
}

SettledRows settled_rows(const at::Tensor& prev, const at::Tensor& cur, bool cur_ordinary, const at::Tensor& next,
                         const at::Tensor& values, double share, int steps_left) {
  auto none = torch::zeros({next.size(0)}, next.options().dtype(torch::kBool));
  auto same1 = cur_ordinary ? (next == cur).flatten(1).all(1) : none;  // a fixed point
  at::Tensor done = same1, on_cur = none;
  if (prev.defined()) {
    auto same2 = (next == prev).flatten(1).all(1);  // a 2-cycle: next, cur, next, ...
    if (steps_left % 2 == 1) on_cur = same2 & ~same1;
    auto changed = (next != prev).flatten(1).sum(1).to(torch::kDouble);
    done = done | same2 | (changed <= share * values.to(torch::kDouble));
  }
  return {done, torch::where(on_cur.view({-1, 1, 1, 1}), cur, next)};
}

struct MinMin::Impl {
  ProtectOptions opt;
  std::shared_ptr<models::Net> model;
  dist::Communicator& comm;
  std::unique_ptr<torch::optim::SGD> sgd;
  PhaseSeconds sec;
  const ShardTensors* shard = nullptr;
  std::int64_t m = 0;  // mask pixels per image

  Impl(ProtectOptions o, std::shared_ptr<models::Net> net, dist::Communicator& c)
      : opt(std::move(o)), model(std::move(net)), comm(c) {
    new_optimiser();
  }

  void new_optimiser() {
    sgd = std::make_unique<torch::optim::SGD>(
        model->parameters(),
        torch::optim::SGDOptions(opt.lr).momentum(opt.momentum).weight_decay(opt.weight_decay));
  }

  /// --reinit-every: the source model gets the weights of a fresh model drawn for (seed,
  /// iteration) and a new optimiser (no momentum), the same on every rank. The noise is then
  /// trained against a model that learns x+delta from scratch, as a victim will.
  void reinit_model(int iter) {
    torch::manual_seed(derive_seed(opt.seed, {key("model"), static_cast<std::uint64_t>(iter)}));
    auto fresh = models::make_model({opt.model, shard->x.size(1), shard->x.size(2), shard->num_classes});
    {
      torch::NoGradGuard ng;
      auto dst = model->parameters(), src = fresh->parameters();
      for (std::size_t i = 0; i < dst.size(); ++i) dst[i].copy_(src[i]);
      auto bdst = model->buffers(), bsrc = fresh->buffers();
      for (std::size_t i = 0; i < bdst.size(); ++i) bdst[i].copy_(bsrc[i]);
    }
    models::broadcast_model(*model, comm);
    new_optimiser();
  }

  at::Tensor loss_of(const at::Tensor& logits, const at::Tensor& y, bool sum) const {
    return models::task_loss(logits, y, shard->multi_label, sum);
  }

  /// The j-th random transformation (flip + crop with 2 px padding) of rows `rows` for `salt`.
  at::Tensor transform(const at::Tensor& x, const std::vector<std::int64_t>& rows, std::uint64_t salt) const {
    if (opt.eot_transforms == Augment::none) return x;
    return data::flip_crop(x, rows, derive_seed(opt.seed, {key("eot"), salt}));
  }

  /// Gradient of the mean loss w.r.t. the input x+d, averaged over the EOT transformations.
  /// With `row_loss`, also each row's loss at x+d (float [n], averaged over the transformations).
  at::Tensor input_grad(const at::Tensor& xb, const at::Tensor& db, const at::Tensor& yb,
                        const std::vector<std::int64_t>& rows, std::uint64_t salt, at::Tensor* row_loss = nullptr) {
    auto xin = (xb + db).detach().requires_grad_(true);
    at::Tensor loss, per_row;
    {
      models::PrecisionScope amp(xb.device(), opt.precision);
      for (int j = 0; j < opt.eot_samples; ++j) {
        auto logits = model->forward(transform(xin, rows, derive_seed(salt, {static_cast<std::uint64_t>(j)})));
        at::Tensor l;
        if (row_loss) {
          auto r = models::task_loss_rows(logits, yb, shard->multi_label);
          per_row = per_row.defined() ? per_row + r.detach() : r.detach();
          l = r.mean();
        } else {
          l = loss_of(logits, yb, false);
        }
        loss = loss.defined() ? loss + l : l;
      }
    }
    if (opt.eot_samples > 1) loss = loss / static_cast<double>(opt.eot_samples);
    if (row_loss) *row_loss = opt.eot_samples > 1 ? per_row / static_cast<double>(opt.eot_samples) : per_row;
    return torch::autograd::grad({loss}, {xin})[0];
  }

  /// The noise a row starts from when it first gets its mask.
  ///  uniform: iid in [-eps, eps] per row; class: one iid pattern per class; texture: one
  ///  stripe texture per class (orientation, frequency and per-channel phase from the class), at
  ///  +-eps: translation-invariant, so the part of it that a per-image mask lets through still
  ///  says the class wherever the mask falls.
  ///  Made on the host (seeded per row or class, so the same on every device), then moved.
  at::Tensor init_noise(const at::Tensor& xb, const at::Tensor& yb, std::int64_t first_row) const {
    if (opt.init == Init::zero) return torch::zeros_like(xb);
    auto d = torch::zeros(xb.sizes(), xb.options().device(torch::kCPU));
    const std::int64_t c = xb.size(1), h = xb.size(2), w = xb.size(3);
    const bool per_class = opt.init != Init::uniform && !shard->multi_label;
    at::Tensor labels = per_class ? yb.to(torch::kCPU) : at::Tensor();  // one copy for the batch
    for (std::int64_t i = 0; i < xb.size(0); ++i) {
      std::uint64_t id = per_class ? static_cast<std::uint64_t>(labels.data_ptr<std::int64_t>()[i])
                                   : static_cast<std::uint64_t>(first_row + i);
      std::uint64_t seed = derive_seed(opt.seed, {key(opt::to_string(opt.init).c_str()), id});
      if (opt.init == Init::texture && per_class) {
        Rng r(seed);
        std::uniform_real_distribution<double> u(0.0, 1.0);
        double theta = u(r) * 3.14159265358979, freq = 0.15 + 0.25 * u(r);
        auto ys = torch::arange(h, torch::kFloat).view({h, 1}), xs = torch::arange(w, torch::kFloat).view({1, w});
        auto phase = (xs * std::cos(theta) + ys * std::sin(theta)) * (2 * 3.14159265358979 * freq);
        for (std::int64_t ch = 0; ch < c; ++ch) d[i][ch] = torch::sin(phase + 6.2831853 * u(r)).sign() * opt.epsilon;
      } else {
        auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
        d[i].uniform_(-opt.epsilon, opt.epsilon, gen);
      }
    }
    return d.to(xb.device());
  }

  // ---- train stage -------------------------------------------------------------------------
  void train_step(NoiseState& st, int iter, std::int64_t step) {
    auto t0 = Clock::now();
    const auto& s = *shard;
    std::int64_t n = s.total_rows, b = std::min<std::int64_t>(opt.batch_size, n);
    // The global batch: the same B rows on every rank, drawn from the whole split; each rank
    // contributes the rows it owns, so the averaged gradient is the same for any number of ranks.
    auto order = models::permutation(n, opt.seed, {key("batch"), static_cast<std::uint64_t>(iter), static_cast<std::uint64_t>(step)});
    order.resize(static_cast<std::size_t>(b));
    // Gradients and batch-norm statistics in one bucket: every rank keeps the same model, as a
    // checkpoint of rank 0's model assumes.
    auto r = models::data_parallel_step(
        *model, *sgd, order, s.row_begin, s.x.size(0),
        [&](const models::LocalRows& l) { return s.x.index_select(0, l.index) + st.delta.index_select(0, l.index); },
        s.y, s.multi_label, comm, opt.precision);
    sec.train_images += r.rows;
    sec.communication += r.communication;
    sec.train_stage += since(t0);
  }

  // ---- noise stage -------------------------------------------------------------------------
  at::Tensor importance(const at::Tensor& g, const at::Tensor& xb, const at::Tensor& db) const {
    if (opt.mask_score == MaskScore::gradient) return g.abs().sum(1);
    // Only the part of the descent step that the box [0,1] and the budget let through counts.
    auto v = xb + db;
    auto down = torch::minimum(db + opt.epsilon, v);        // room to decrease (g > 0)
    auto up = torch::minimum(opt.epsilon - db, 1.0 - v);    // room to increase (g < 0)
    auto room = torch::where(g > 0, down, up).clamp(0, opt.step_size) / opt.step_size;
    return (g.abs() * room).sum(1);
  }

  /// Per-image importance, each image's summing to 1 (images weigh the same in a class's pool).
  at::Tensor normalised_importance(const at::Tensor& g, const at::Tensor& xb, const at::Tensor& db) const {
    auto s = importance(g, xb, db);
    return s / s.sum({1, 2}, true).clamp_min(1e-20);
  }

  /// --mask-scope class: the importance of every pixel pooled over all rows of each class on all
  /// ranks, at the noise and the model of the start of this noise stage (one input gradient per
  /// row, then one all-reduce of [classes, H, W]).
  at::Tensor class_importance(const NoiseState& st, int iter) {
    const auto& s = *shard;
    auto cs = torch::zeros({s.num_classes, s.x.size(2), s.x.size(3)}, s.x.options());
    const std::int64_t nb = opt.noise_batch();
    for (std::int64_t begin = 0; begin < s.x.size(0); begin += nb) {
      std::int64_t len = std::min(nb, s.x.size(0) - begin);
      auto xb = s.x.narrow(0, begin, len), yb = s.y.narrow(0, begin, len);
      auto db = st.delta.narrow(0, begin, len);
      // Rows without a mask yet are ranked at the noise they will start from (--init).
      auto have = st.masked.narrow(0, begin, len);
      if (have.min().item<std::uint8_t>() == 0) {
        db = torch::where(have.view({-1, 1, 1, 1}).to(torch::kBool), db, init_noise(xb, yb, s.row_begin + begin));
        db = (xb + db).clamp(0, 1) - xb;
      }
      std::vector<std::int64_t> rows(static_cast<std::size_t>(len));
      std::iota(rows.begin(), rows.end(), s.row_begin + begin);
      // flip_crop draws per row: a salt of the iteration alone keeps this independent of the ranks.
      auto g = input_grad(xb, db, yb, rows, derive_seed(0, {key("class-scope"), static_cast<std::uint64_t>(iter)}));
      cs.index_add_(0, yb, normalised_importance(g, xb, db));
    }
    std::vector<at::Tensor> t{cs};
    auto c0 = Clock::now();
    comm.allreduce(t);
    sec.communication += since(c0);
    return cs / cs.sum({1, 2}, true).clamp_min(1e-20);  // each class's map sums to 1
  }

  void noise_batch(NoiseState& st, int iter, std::int64_t batch) {
    const auto& s = *shard;
    std::int64_t n_local = s.x.size(0);
    std::int64_t lb = opt.noise_batch();
    std::int64_t begin = std::min(n_local, batch * lb), end = std::min(n_local, begin + lb);
    if (begin >= end) return;
    auto t0 = Clock::now();
    auto xb = s.x.narrow(0, begin, end - begin);
    auto yb = s.y.narrow(0, begin, end - begin);
    auto db = st.delta.narrow(0, begin, end - begin).clone();
    auto mb = st.mask.narrow(0, begin, end - begin);
    auto have = st.masked.narrow(0, begin, end - begin);
    std::vector<std::int64_t> rows(static_cast<std::size_t>(end - begin));
    std::iota(rows.begin(), rows.end(), s.row_begin + begin);
    std::uint64_t salt = derive_seed(0, {static_cast<std::uint64_t>(iter), static_cast<std::uint64_t>(batch)});

    bool fresh = have.min().item<std::uint8_t>() == 0;
    bool recompute = opt.method == Method::salm && (opt.mask_update == MaskUpdate::every || fresh);
    if (fresh) {  // first time these rows get a mask: start from the chosen initial noise
      auto init = init_noise(xb, yb, s.row_begin + begin);
      db = torch::where(have.view({-1, 1, 1, 1}).to(torch::kBool), db, init);
      db = (xb + db).clamp(0, 1) - xb;
    }
    // The gradient that ranks the pixels is also the first PGD step's: the mask costs no extra
    // forward and backward (measured: 11 gradients for 10 steps cost small-cnn 9% of its rate).
    at::Tensor first_grad;
    if (opt.method == Method::em) {
      mb.fill_(1);
    } else if (recompute) {
      first_grad = input_grad(xb, db, yb, rows, derive_seed(salt, {key("mask")}));
      // Class scope: the class's pooled score decides; the image's own breaks the class's ties.
      // (In double: the tie-break term is 1e-6 of a class's score, below float resolution.)
      auto score = st.class_score.defined()
                       ? st.class_score.index_select(0, yb).to(torch::kDouble) +
                             1e-6 * normalised_importance(first_grad, xb, db).to(torch::kDouble)
                       : importance(first_grad, xb, db);
      auto newmask = top_pixels_mask(score, m);
      if (opt.mask_update == MaskUpdate::once) newmask = torch::where(have.view({-1, 1, 1}).to(torch::kBool), mb, newmask);
      mb.copy_(newmask);
    }
    have.fill_(1);
    auto mf = mb.unsqueeze(1).to(torch::kFloat);  // [b,1,H,W], shared by the channels of a pixel
    db.mul_(mf);
    auto run = pgd(xb, yb, db, mf, rows, salt, first_grad);
    st.delta.narrow(0, begin, end - begin).copy_(db);
    const std::int64_t all = (end - begin) * opt.pgd_steps;
    sec.noise_image_steps += run;
    sec.noise_image_steps_skipped += all - run;
    st.stage_run += run;
    st.stage_skipped += all - run;
    sec.noise_stage += since(t0);
  }

  /// One PGD step of the noise `d` of rows `x` (mask `mf`) along the input gradient `g`,
  /// projected on the budget and the box [0,1].
  at::Tensor pgd_step(const at::Tensor& x, const at::Tensor& d, const at::Tensor& g, const at::Tensor& mf) const {
    auto next = (d - opt.step_size * (g * mf).sign()).clamp(-opt.epsilon, opt.epsilon) * mf;
    return (x + next).clamp(0, 1) - x;
  }

  /// The PGD steps of one noise batch on `db` (in place); returns the image-steps run.
  ///
  /// The active set (--active-change, --active-loss): a row that is done leaves the batch, and the
  /// remaining steps run on the rows still active only (the batch is compacted: no masked-out
  /// work). A row below the loss bound takes the step whose gradient measured that loss, then
  /// stops. The change rule is settled_rows'.
  std::int64_t pgd(const at::Tensor& xb, const at::Tensor& yb, at::Tensor& db, const at::Tensor& mf,
                   const std::vector<std::int64_t>& rows, std::uint64_t salt, const at::Tensor& first_grad) {
    const int steps = opt.pgd_steps;
    const std::int64_t n = xb.size(0);
    const bool by_change = opt.active_change.has_value();
    const bool by_loss = opt.active_loss > 0;
    if (!by_change && !by_loss) {
      for (int k = 0; k < steps; ++k) {
        auto g = k == 0 && first_grad.defined()
                     ? first_grad
                     : input_grad(xb, db, yb, rows, derive_seed(salt, {static_cast<std::uint64_t>(k)}));
        db = pgd_step(xb, db, g, mf);
      }
      return n * steps;
    }
    // The active rows: their positions in the batch, and their tensors.
    auto pos = torch::arange(n, torch::TensorOptions().dtype(torch::kLong).device(xb.device()));
    at::Tensor xa = xb, ya = yb, ma = mf, cur = db, prev;  // prev: the state one step before cur
    auto values = mf.flatten(1).sum(1) * static_cast<double>(xb.size(1));
    std::vector<std::int64_t> ra = rows;
    // The first step may use the mask's gradient, taken before the mask was applied: the state
    // it starts from is then not one an ordinary step leaves (see settled_rows).
    const int ordinary = first_grad.defined() ? 1 : 0;
    std::int64_t run = 0;
    auto out = db.clone();
    for (int k = 0; k < steps && xa.size(0) > 0; ++k) {
      at::Tensor row_loss, g;
      if (k == 0 && first_grad.defined()) g = first_grad;
      else g = input_grad(xa, cur, ya, ra, derive_seed(salt, {static_cast<std::uint64_t>(k)}), by_loss ? &row_loss : nullptr);
      run += xa.size(0);
      auto next = pgd_step(xa, cur, g, ma);
      if (k + 1 == steps) {
        cur = next;
        break;
      }
      auto done = torch::zeros({xa.size(0)}, torch::TensorOptions().dtype(torch::kBool).device(xa.device()));
      auto fin = next;
      if (by_change) {
        auto r = settled_rows(k - 1 >= ordinary ? prev : at::Tensor(), cur, k >= ordinary, next, values,
                              *opt.active_change, steps - k - 1);
        done = r.done;
        fin = r.final;
      }
      if (row_loss.defined()) done = done | (row_loss < opt.active_loss);
      if (done.any().item<bool>()) {
        auto gone = done.nonzero().squeeze(1);
        out.index_copy_(0, pos.index_select(0, gone), fin.index_select(0, gone));
        auto stay = (~done).nonzero().squeeze(1);
        pos = pos.index_select(0, stay);
        xa = xa.index_select(0, stay);
        ya = ya.index_select(0, stay);
        ma = ma.index_select(0, stay);
        values = values.index_select(0, stay);
        next = next.index_select(0, stay);
        cur = cur.index_select(0, stay);
        auto host = stay.cpu();
        std::vector<std::int64_t> kept(static_cast<std::size_t>(host.size(0)));
        for (std::size_t i = 0; i < kept.size(); ++i) kept[i] = ra[static_cast<std::size_t>(host.data_ptr<std::int64_t>()[i])];
        ra = std::move(kept);
      }
      prev = cur;
      cur = next;
    }
    if (xa.size(0) > 0) out.index_copy_(0, pos, cur);
    db = out;
    return run;
  }

  // ---- check -------------------------------------------------------------------------------
  void check(NoiseState& st) {
    auto t0 = Clock::now();
    const auto& s = *shard;
    model->eval();
    torch::NoGradGuard ng;
    // Per-batch sums in double on the device (each batch's float loss widened, as on the host), one
    // copy to the host at the end.
    auto acc = torch::zeros({2}, s.x.options().dtype(torch::kDouble));  // correct, loss sum
    const std::int64_t nb = opt.noise_batch();
    for (std::int64_t b = 0; b < s.x.size(0); b += nb) {
      auto len = std::min(nb, s.x.size(0) - b);
      models::PrecisionScope amp(s.x.device(), opt.precision);
      auto logits = model->forward(s.x.narrow(0, b, len) + st.delta.narrow(0, b, len));
      auto y = s.y.narrow(0, b, len);
      acc[1] += loss_of(logits, y, true).to(torch::kDouble);
      acc[0] += models::correct_tensor(logits, y, s.multi_label);
    }
    auto host = acc.cpu();
    double sums[3] = {host[0].item<double>(), static_cast<double>(s.x.size(0)), host[1].item<double>()};
    auto c0 = Clock::now();
    comm.allreduce(sums, 3);
    sec.communication += since(c0);
    st.train_acc = sums[1] > 0 ? sums[0] / sums[1] : 0;
    st.train_loss = sums[1] > 0 ? sums[2] / sums[1] : 0;
    sec.check += since(t0);
  }

  bool stop_now(const LoopHooks& hooks) {
    std::int64_t want = hooks.stop_requested && hooks.stop_requested() ? 1 : 0;
    return comm.allreduce_scalar(want, dist::ReduceOp::max) > 0;
  }

  /// All ranks' counts of the noise stage in progress (run, skipped).
  std::array<std::int64_t, 2> stage_counts(const NoiseState& st) {
    std::array<std::int64_t, 2> c{st.stage_run, st.stage_skipped};
    auto c0 = Clock::now();
    comm.allreduce(c.data(), 2);
    sec.communication += since(c0);
    return c;
  }

  /// Before a checkpoint in the middle of a noise stage: all ranks' counts on rank 0, zero on the
  /// others, as a resumed run starts them (see NoiseState::stage_run).
  void gather_stage_counts(NoiseState& st) {
    auto c = stage_counts(st);
    bool root = comm.rank() == 0;
    st.stage_run = root ? c[0] : 0;
    st.stage_skipped = root ? c[1] : 0;
  }

  void set_requires_grad(bool on) {
    for (auto& p : model->parameters()) p.requires_grad_(on);
  }
};

MinMin::MinMin(ProtectOptions opt, std::shared_ptr<models::Net> model, dist::Communicator& comm)
    : impl_(std::make_unique<Impl>(std::move(opt), std::move(model), comm)) {}

MinMin::~MinMin() = default;

std::int64_t MinMin::noise_batches(std::int64_t total_rows) const {
  std::int64_t largest = (total_rows + impl_->comm.size() - 1) / impl_->comm.size();
  return (largest + impl_->opt.noise_batch() - 1) / impl_->opt.noise_batch();
}

LoopResult MinMin::run(const ShardTensors& shard, std::optional<NoiseState> resume,
                       const std::function<void(torch::nn::Module&, torch::optim::SGD&)>& load, const LoopHooks& hooks) {
  auto& im = *impl_;
  const auto& opt = im.opt;
  im.shard = &shard;
  im.m = opt.mask_pixels(shard.x.size(2) * shard.x.size(3));
  if (opt.method == Method::salm && opt.mask_scope == MaskScope::klass && shard.multi_label)
    throw UsageError("--mask-scope class needs one class per image; this dataset is multi-label");
  LoopResult res;
  NoiseState st;
  if (resume) {
    st = std::move(*resume);
    if (im.comm.rank() != 0) st.stage_run = st.stage_skipped = 0;  // rank 0 carries the counts
    load(*im.model, *im.sgd);
  } else {
    st = empty_state(shard);
    models::broadcast_model(*im.model, im.comm);  // the same initial model everywhere
  }
  const std::int64_t nb = noise_batches(shard.total_rows);
  auto checkpoint = [&] {
    if (hooks.checkpoint) hooks.checkpoint(st, *im.model, *im.sgd);
  };
  bool root = im.comm.rank() == 0;
  // The stop rule: the closed loop's val check when asked for, else the source's train accuracy.
  auto target_met = [&] {
    return !st.val_checks.empty() && st.val_checks.back().first == st.iterations_done &&
           st.val_checks.back().second <= opt.target_val_acc;
  };
  // A resumed run that had already met its stop rule is finished.
  if (opt.closed_loop()) res.reached_target = target_met();
  else res.reached_stop_acc = st.iterations_done > 0 && opt.stop_acc > 0 && st.train_acc >= opt.stop_acc;
  while (!res.reached_stop_acc && !res.reached_target && st.pos.iteration < opt.max_iters) {
    const int it = st.pos.iteration;
    if (st.pos.stage == 0) {
      im.set_requires_grad(true);
      if (opt.reinit_every > 0 && it > 0 && it % opt.reinit_every == 0 && st.pos.step == 0) im.reinit_model(it);
      for (std::int64_t t = st.pos.step; t < opt.train_steps; ++t) {
        im.train_step(st, it, t);
        st.pos.step = t + 1;
        if (im.stop_now(hooks)) {
          checkpoint();
          res.interrupted = true;
          res.state = std::move(st);
          res.seconds = im.sec;
          return res;
        }
      }
      st.pos = {it, 1, 0};
    }
    if (st.pos.stage == 1) {
      im.model->eval();
      im.set_requires_grad(false);  // input gradients only: ~1/3 cheaper than a full backward
      // Pooled once per stage, before any row changes; a stage resumed midway keeps the
      // checkpointed pool, so a resumed run equals an uninterrupted one.
      bool pool = opt.method == Method::salm && opt.mask_scope == MaskScope::klass && (opt.mask_update == MaskUpdate::every || it == 0);
      if (pool && st.pos.step == 0) {
        auto t0 = Clock::now();
        st.class_score = im.class_importance(st, it);
        im.sec.noise_stage += since(t0);
      }
      Progress progress(fmt::format("iteration {}/{} noise stage", it + 1, opt.max_iters),
                        shard.total_rows * opt.pgd_steps, "image-steps", root, 10.0);
      progress.advance(st.pos.step * opt.noise_batch() * im.comm.size() * opt.pgd_steps);
      for (std::int64_t b = st.pos.step; b < nb; ++b) {
        im.noise_batch(st, it, b);
        st.pos.step = b + 1;
        progress.advance(std::min(opt.noise_batch() * im.comm.size(), shard.total_rows) * opt.pgd_steps);
        if (im.stop_now(hooks)) {
          im.set_requires_grad(true);
          im.gather_stage_counts(st);
          checkpoint();
          res.interrupted = true;
          res.state = std::move(st);
          res.seconds = im.sec;
          return res;
        }
      }
      im.set_requires_grad(true);
      auto counts = im.stage_counts(st);  // the same record on every rank
      st.active.push_back({it + 1, counts[0], counts[1]});
      st.stage_run = st.stage_skipped = 0;
      st.pos = {it, 2, 0};
    }
    im.check(st);
    st.iterations_done = it + 1;
    std::string val;
    // The active set's share of this iteration's noise stage (logged when it left steps out).
    if (!st.active.empty() && st.active.back().iteration == it + 1 && st.active.back().skipped > 0)
      val = fmt::format("; active set: {:.1f}% of the image-steps run", 100 * st.active.back().active_fraction());
    if (opt.closed_loop()) {
      if (hooks.val_check && ((it + 1) % opt.check_every == 0 || it + 1 == opt.max_iters)) {
        auto t0 = Clock::now();
        st.val_checks.emplace_back(it + 1, hooks.val_check(st));
        im.sec.check += since(t0);
        res.reached_target = target_met();
        val += fmt::format("; val check: a fresh victim {:.2f}% (target {:.2f}%){}", 100 * st.val_checks.back().second,
                          100 * opt.target_val_acc, res.reached_target ? ", target met" : "");
      }
    } else {
      res.reached_stop_acc = opt.stop_acc > 0 && st.train_acc >= opt.stop_acc;
    }
    st.pos = {it + 1, 0, 0};
    if (root)
      spdlog::info("iteration {}/{}: train accuracy on x+delta {:.2f}%, loss {:.4f}{}{}", it + 1, opt.max_iters,
                   100 * st.train_acc, st.train_loss, res.reached_stop_acc ? " (stop accuracy reached)" : "", val);
    checkpoint();
  }
  res.state = std::move(st);
  res.seconds = im.sec;
  return res;
}

}  // namespace salm::methods
