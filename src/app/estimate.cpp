#include "salm/app/estimate.hpp"

#include <torch/torch.h>

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "salm/core/error.hpp"
#include "salm/core/progress.hpp"
#include "salm/core/rng.hpp"
#include "salm/dist/shard.hpp"
#include "salm/eval/victim.hpp"
#include "salm/io/noise_file.hpp"
#include "salm/methods/protect.hpp"
#include "salm/models/device.hpp"
#include "salm/models/models.hpp"

namespace salm::app {
namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

/// The first `k` rows of `rows`.
data::SplitData head(const data::SplitData& rows, std::int64_t k) {
  data::SplitData out;
  out.split = rows.split;
  out.row_begin = rows.row_begin;
  out.shape = rows.shape;
  out.shape.rows = k;
  out.images.assign(rows.images.begin(), rows.images.begin() + k * rows.shape.image_elems());
  out.labels.assign(rows.labels.begin(), rows.labels.begin() + k * rows.shape.label_elems());
  return out;
}

double peak_rss_mib() {
  struct rusage u {};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;  // KiB on Linux
}

}  // namespace

std::string slurm_time(double seconds) {
  auto minutes = static_cast<std::int64_t>(std::ceil(std::max(seconds, 1.0) / 60.0));
  const std::int64_t days = minutes / (24 * 60);
  minutes %= 24 * 60;
  auto hm = fmt::format("{:02d}:{:02d}:00", minutes / 60, minutes % 60);
  return days > 0 ? fmt::format("{}-{}", days, hm) : hm;
}

ProtectEstimate estimate_protect(const ProtectRequest& req, dist::Communicator& comm) {
  const ProtectOptions& opt = req.options;
  opt.validate();
  req.open.validate();
  models::configure_device(req.device, opt.precision);
  ProtectEstimate e;
  e.ranks = comm.size();
  e.device = req.device.str();
  e.method = opt::to_string(opt.method);
  e.model = opt.model;
  e.max_iters = opt.min_min() ? opt.max_iters : 1;
  e.margin = 0.2;

  // Set-up as the run does it: this rank's rows, and the SHA-256 of the data on rank 0.
  auto reader = data::open_dataset(req.files.data, req.open);
  reader->require_splits({opt.split});
  const auto& info = reader->info();
  const auto shape = reader->shape(opt.split);
  const std::int64_t n = opt.subset > 0 ? std::min(opt.subset, shape.rows) : shape.rows;
  if (n < 1) throw InputError(req.files.data, fmt::format("split '{}' is empty", opt.split));
  e.rows = n;
  const auto mine = dist::shard_of(n, comm.rank(), comm.size());
  auto t0 = Clock::now();
  if (comm.rank() == 0) (void)io::sha256_file(req.files.data);
  auto rows = reader->read(opt.split, mine.begin, mine.size());
  data::SplitData val_rows;
  if (opt.closed_loop()) {
    if (!reader->has_split("val") || reader->shape("val").rows == 0)
      throw InputError(req.files.data, "has no val split, which --target-val-acc judges on (salm convert --val-from-train N "
                                       "makes one)");
    val_rows = reader->read_shard("val", comm.rank(), comm.size());
  }
  double setup = since(t0);

  // The calibration slice: two noise batches per rank (at least a global train batch in all),
  // one outer iteration with at most 3 train steps, no stop rule.
  const auto t_cal = Clock::now();
  const std::int64_t want = std::max<std::int64_t>(2 * opt.noise_batch(), (opt.batch_size + comm.size() - 1) / comm.size());
  const std::int64_t k = std::min<std::int64_t>(mine.size(), want);
  const std::int64_t k_total = comm.allreduce_scalar(k, dist::ReduceOp::sum);
  e.calibration_rows = k_total;
  const auto cal_rows = head(rows, k);
  const auto shard = methods::make_shard(cal_rows, info, k_total, req.device);
  ProtectOptions cal = opt;
  cal.max_iters = 1;
  cal.train_steps = std::min(opt.train_steps, 3);
  cal.stop_acc = 0;
  cal.target_val_acc = 0;
  cal.reinit_every = 0;
  e.calibration_train_steps = opt.min_min() ? cal.train_steps : 0;
  auto model = [&] {
    try {
      return methods::make_source_model(cal, shard);
    } catch (const UsageError& err) {
      throw InputError(req.files.data, err.what());
    }
  }();
  // Warm-up, untimed: the first steps of a process pay once for what every later step reuses
  // (oneDNN's kernels for these shapes, the allocator's first pages). One train step and one PGD
  // step per noise batch on a model of its own, so the timed calibration measures steady steps.
  {
    ProtectOptions warm = cal;
    warm.train_steps = std::min(cal.train_steps, 1);
    warm.pgd_steps = 1;
    auto scratch = methods::make_source_model(warm, shard);
    const auto level = spdlog::default_logger()->level();  // its iteration line is not the user's
    spdlog::default_logger()->set_level(std::max(level, spdlog::level::warn));
    try {
      (void)methods::run_method(warm, shard, scratch, comm, std::nullopt, {}, {});
    } catch (...) {
      spdlog::default_logger()->set_level(level);
      throw;
    }
    spdlog::default_logger()->set_level(level);
  }
  auto w0 = Clock::now();
  auto result = methods::run_method(cal, shard, model, comm, std::nullopt, {}, {});
  double wall = since(w0);

  // One epoch of the closed loop's victim on the same slice, tested on a val slice of the same share.
  double victim = 0;
  if (opt.closed_loop()) {
    VictimOptions v;
    v.model = opt.check_model;
    v.epochs = 1;
    v.optimizer = opt.check_optimizer;
    v.augment = opt.check_augment;
    v.batch_size = opt.batch_size;
    v.precision = opt.precision;
    v.seed = derive_seed(opt.seed, {hash_name("val-check"), 0});
    const std::int64_t kv = std::max<std::int64_t>(
        1, std::min<std::int64_t>(val_rows.rows(), (val_rows.rows() * k + mine.size() - 1) / std::max<std::int64_t>(1, mine.size())));
    auto vt = Clock::now();
    eval::train_victim(v, cal_rows, k_total, head(val_rows, kv), info, comm, {}, req.device);
    victim = since(vt);
  }

  // The slowest rank sets the pace of every collective step.
  double secs[6] = {result.seconds.train_stage, result.seconds.noise_stage, result.seconds.check, wall, victim, setup};
  comm.allreduce(secs, 6, dist::ReduceOp::max);
  const double scale = static_cast<double>(n) / static_cast<double>(k_total);
  if (opt.min_min()) {
    e.train_step_seconds = secs[0] / std::max(1, cal.train_steps);
    e.train_stage_seconds = e.train_step_seconds * opt.train_steps;
    const std::int64_t largest = (n + comm.size() - 1) / comm.size();
    e.noise_batches = (largest + opt.noise_batch() - 1) / opt.noise_batch();
    const std::int64_t cal_batches = (k + opt.noise_batch() - 1) / opt.noise_batch();
    e.noise_batch_seconds = secs[1] / static_cast<double>(std::max<std::int64_t>(1, cal_batches));
    e.noise_stage_seconds = e.noise_batch_seconds * static_cast<double>(e.noise_batches);
    e.source_check_seconds = secs[2] * scale;
    e.iteration_seconds = e.train_stage_seconds + e.noise_stage_seconds + e.source_check_seconds;
  } else {
    e.iteration_seconds = secs[3] * scale;  // a baseline is one pass over the rows
  }
  if (opt.closed_loop()) {
    e.val_check_seconds = secs[4] * scale * opt.check_epochs;
    e.val_checks = (e.max_iters + opt.check_every - 1) / opt.check_every;
  }
  e.setup_seconds = secs[5];
  e.run_seconds = e.setup_seconds + e.max_iters * e.iteration_seconds + e.val_checks * e.val_check_seconds;
  e.slurm_time = slurm_time(e.run_seconds * (1 + e.margin) + 60);

  // Host memory: what the calibration reached, plus the tensors of the rows it did not hold
  // (image and noise as float, the noise file's copies, the masks).
  const double per_row = static_cast<double>(shape.image_elems() * (4 + 4 + 4 + 1) + 2 * shape.height * shape.width);
  double mib = peak_rss_mib() + per_row * static_cast<double>(mine.size() - k) / (1024.0 * 1024.0);
  comm.allreduce(&mib, 1, dist::ReduceOp::max);
  e.peak_host_mib = mib;
  double cal_secs = since(t_cal) + setup;
  comm.allreduce(&cal_secs, 1, dist::ReduceOp::max);
  e.calibration_seconds = cal_secs;
  return e;
}

std::string estimate_text(const ProtectEstimate& e) {
  std::string s = fmt::format("estimate for salm protect: {} rows, {} with a {} source, {} rank(s) on {}\n", e.rows, e.method,
                              e.model, e.ranks, e.device);
  s += fmt::format("  calibrated on {} rows{} in {}\n", e.calibration_rows,
                   e.calibration_train_steps ? fmt::format(" and {} train steps", e.calibration_train_steps) : "",
                   format_duration(e.calibration_seconds));
  s += fmt::format("  set-up (reading the data, SHA-256)   {}\n", format_duration(e.setup_seconds));
  if (e.noise_batches > 0) {
    s += fmt::format("  train stage   {:>10}  per iteration ({:.3f} s per step)\n", format_duration(e.train_stage_seconds),
                     e.train_step_seconds);
    s += fmt::format("  noise stage   {:>10}  per iteration ({} batches per rank, {:.3f} s each)\n",
                     format_duration(e.noise_stage_seconds), e.noise_batches, e.noise_batch_seconds);
    s += fmt::format("  source check  {:>10}  per iteration\n", format_duration(e.source_check_seconds));
  }
  s += fmt::format("  one iteration {:>10}\n", format_duration(e.iteration_seconds));
  if (e.val_checks > 0)
    s += fmt::format("  val check     {:>10}  each, at most {} (the closed loop's victim)\n", format_duration(e.val_check_seconds),
                     e.val_checks);
  s += fmt::format("  whole run     {:>10}  at most ({} iteration(s); a run that meets its stop rule earlier takes less)\n",
                   format_duration(e.run_seconds), e.max_iters);
  s += fmt::format("  peak memory   {:>7.0f} MiB per rank (host)\n", e.peak_host_mib);
  s += fmt::format("  Slurm         --time={}  (the whole run + {:.0f}% + 1 minute of start-up)\n", e.slurm_time,
                   100 * e.margin);
  return s;
}

std::string estimate_json(const ProtectEstimate& e) {
  nlohmann::json j = {{"rows", e.rows},
                      {"ranks", e.ranks},
                      {"device", e.device},
                      {"method", e.method},
                      {"model", e.model},
                      {"calibration_rows", e.calibration_rows},
                      {"calibration_train_steps", e.calibration_train_steps},
                      {"calibration_seconds", e.calibration_seconds},
                      {"setup_seconds", e.setup_seconds},
                      {"train_step_seconds", e.train_step_seconds},
                      {"train_stage_seconds", e.train_stage_seconds},
                      {"noise_batches", e.noise_batches},
                      {"noise_batch_seconds", e.noise_batch_seconds},
                      {"noise_stage_seconds", e.noise_stage_seconds},
                      {"source_check_seconds", e.source_check_seconds},
                      {"val_check_seconds", e.val_check_seconds},
                      {"val_checks", e.val_checks},
                      {"iteration_seconds", e.iteration_seconds},
                      {"max_iters", e.max_iters},
                      {"run_seconds", e.run_seconds},
                      {"peak_host_mib", e.peak_host_mib},
                      {"margin", e.margin},
                      {"slurm_time", e.slurm_time}};
  return j.dump(1) + "\n";
}

}  // namespace salm::app
