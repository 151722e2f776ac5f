#include "salm/app/protect.hpp"

#include <torch/torch.h>

#include <chrono>
#include <optional>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "salm/app/checkpoint_state.hpp"
#include "salm/config.hpp"
#include "salm/core/error.hpp"
#include "salm/core/progress.hpp"
#include "salm/core/rng.hpp"
#include "salm/core/system.hpp"
#include "salm/dist/shard.hpp"
#include "salm/eval/victim.hpp"
#include "salm/io/checkpoint.hpp"
#include "salm/io/noise_file.hpp"
#include "salm/io/publish.hpp"
#include "salm/methods/protect.hpp"
#include "salm/models/device.hpp"
#include "salm/models/models.hpp"

namespace salm::app {
namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// ---- the noise file's attributes and the report -------------------------------------------------

/// What the noise file says of its own protection: "passed" (the closed loop's last val check
/// met --target-val-acc), "failed" (it never did) or "not run" (no --target-val-acc).
std::string protection_check(const ProtectOptions& opt, const methods::LoopResult& r) {
  if (!opt.closed_loop()) return "not run";
  return r.reached_target ? "passed" : "failed";
}

/// The val-victim curve as JSON: [[iterations done, val accuracy], ...].
std::string val_checks_json(const methods::NoiseState& st) { return nlohmann::json(st.val_checks).dump(); }

/// The active set's work per noise stage as JSON: [[iteration, image-steps run, skipped], ...].
nlohmann::json active_json(const methods::NoiseState& st) {
  auto j = nlohmann::json::array();
  for (const auto& a : st.active) j.push_back({a.iteration, a.run, a.skipped});
  return j;
}

/// Every option of the table, then what the run was made from and what it reached.
io::Attributes noise_attributes(const ProtectOptions& opt, const ProtectRequest& req, const data::DatasetInfo& info,
                                std::int64_t rows, std::int64_t pixels, const std::string& sha, int ranks,
                                const std::string& start_time, const methods::LoopResult& r) {
  io::Attributes a = opt::values(opt);
  for (auto& [k, v] : a)
    if (k == "k") v = opt.effective_k();  // the pixels the method may change: 100 for em, tap, sp
  a.insert(a.end(), {{"rows", rows},
                     {"mask_pixels", opt.mask_pixels(pixels)},
                     {"source", req.files.data},
                     {"source_sha256", sha},
                     {"dataset_name", info.name},
                     {"num_classes", info.num_classes},
                     {"task", data::to_string(info.task)},
                     {"ranks", std::int64_t{ranks}},
                     {"device", req.device.is_cuda() ? std::string("cuda") : std::string("cpu")},
                     {"salm_version", std::string(SALM_VERSION)},
                     {"start_time", start_time},
                     {"iterations", std::int64_t{r.state.iterations_done}},
                     {"reached_stop_acc", r.reached_stop_acc},
                     {"final_train_accuracy", r.state.train_acc},
                     {"final_train_loss", r.state.train_loss},
                     {"command_line", req.command_line}});
  a.insert(a.end(), {{"protection_check", protection_check(opt, r)}, {"val_checks", val_checks_json(r.state)},
                     {"active_steps", active_json(r.state).dump()}});
  if (!r.state.val_checks.empty()) a.emplace_back("final_val_check_accuracy", r.state.val_checks.back().second);
  return a;
}

nlohmann::json to_json(const io::Attributes& attrs) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [k, v] : attrs)
    std::visit(
        [&, key = k](const auto& x) {
          if constexpr (std::is_same_v<std::decay_t<decltype(x)>, std::monostate>) j[key] = nullptr;
          else j[key] = x;
        },
        v);
  return j;
}

}  // namespace

ProtectResult protect(const ProtectRequest& req, dist::Communicator& comm) {
  const bool root = comm.rank() == 0;
  const std::string start_time = iso_time_now();
  Progress total_timer("protect", 0, "", false);
  const ProtectOptions& opt = req.options;
  const ProtectFiles& files = req.files;
  opt.validate();
  req.open.validate();
  models::configure_device(req.device, opt.precision);
  ProtectResult out;

  auto reader = data::open_dataset(files.data, req.open);
  reader->require_splits({opt.split});
  const auto& info = reader->info();
  const auto shape = reader->shape(opt.split);
  const std::int64_t n = opt.subset > 0 ? std::min(opt.subset, shape.rows) : shape.rows;
  if (n < 1) throw InputError(files.data, fmt::format("split '{}' is empty", opt.split));
  out.rows = n;
  // Claim the outputs and refuse a bad one now, not after hours of work: a second run on the same
  // --out or checkpoint directory stops here with one line.
  io::check_output_path(files.out, files.overwrite, comm);
  io::OutputLock out_lock(files.out, comm);
  const std::string ckpt_dir = files.checkpoint_dir.empty() ? files.out + ".ckpt" : files.checkpoint_dir;
  const bool checkpoints = opt.min_min() && !files.no_checkpoint;
  std::optional<io::OutputLock> ckpt_lock;
  if (checkpoints) ckpt_lock.emplace(ckpt_dir, comm);
  if (!files.report.empty()) io::check_output_path(files.report, files.overwrite, comm);

  std::string sha;
  if (root) sha = io::sha256_file(files.data);
  comm.broadcast_string(sha);

  // This rank's rows, as tensors.
  auto mine = dist::shard_of(n, comm.rank(), comm.size());
  auto io_t0 = Clock::now();
  auto rows = reader->read(opt.split, mine.begin, mine.size());
  double io_seconds = since(io_t0);
  const auto shard = methods::make_shard(rows, info, n, req.device);
  // The closed loop's judge: this rank's rows of the clean val split.
  data::SplitData val_rows;
  if (opt.closed_loop()) {
    if (!reader->has_split("val") || reader->shape("val").rows == 0)
      throw InputError(files.data, "has no val split, which --target-val-acc judges on (salm convert --val-from-train N "
                                   "makes one)");
    val_rows = reader->read_shard("val", comm.rank(), comm.size());
  }
  auto model = [&] {
    try {
      return methods::make_source_model(opt, shard);
    } catch (const UsageError& e) {  // a model that does not fit these images: say which data
      throw InputError(files.data, e.what());
    }
  }();
  if (root)
    spdlog::info("protect {} rows of '{}' ({}x{}x{}, {} classes) with {}: k={}% ({} px), eps={}/255, {} ranks ({}, {}), "
                 "source {} ({:.1f}M parameters)",
                 n, opt.split, shape.height, shape.width, shape.channels, info.num_classes, opt::to_string(opt.method),
                 opt.effective_k(), opt.mask_pixels(shape.height * shape.width), opt.epsilon * 255, comm.size(),
                 req.device.str(), comm.backend(), opt.model, models::parameter_count(*model) / 1e6);

  // Checkpoint: resume if one matches these options and data. Only the min-min loop checkpoints:
  // the baselines are short and start over.
  if (checkpoints) out.checkpoint_dir = ckpt_dir;
  io::CheckpointStore store(ckpt_dir, comm);
  const std::string fp = fmt::format("{} rows={} data={}", opt::fingerprint(opt), n, sha);
  std::optional<methods::NoiseState> resume;
  std::optional<io::CheckpointMeta> meta;
  if (checkpoints) meta = store.latest();
  if (meta) {
    if (meta->fingerprint != fp)
      throw InputError(ckpt_dir, "holds a checkpoint of other options or data; remove it, or choose another "
                                 "--checkpoint-dir");
    resume = resume_state(store, *meta, shard);
    out.resumed = true;
    if (root)
      spdlog::info("resuming from checkpoint {}/{} (iteration {}, stage {}, step {})", ckpt_dir, meta->generation,
                   meta->iteration + 1, meta->stage, meta->step);
  }

  auto stop_signal = [&] { return req.stop_signal ? req.stop_signal() : 0; };
  // A stop asked for during the set-up (reading the data, the SHA-256, loading a checkpoint).
  if (comm.allreduce_scalar(std::int64_t{stop_signal() != 0}, dist::ReduceOp::max) != 0) {
    if (root) spdlog::warn("stopped by a signal before the first step: nothing new to checkpoint; run the same command to resume");
    out.status = ProtectStatus::stopped;
    return out;
  }
  methods::LoopHooks hooks;
  int signal = 0;
  hooks.stop_requested = [&] {
    if (signal == 0 && req.step_hook) signal = req.step_hook();
    if (signal == 0) signal = stop_signal();
    return signal != 0;
  };
  if (opt.closed_loop())
    hooks.val_check = [&](const methods::NoiseState& st) {
      // What an unauthorised trainer would do with the release as it stands: a fresh victim on
      // the protected rows (uint8, as published), tested on the owner's clean val split.
      data::SplitData prot = rows;
      auto p = methods::protected_images(shard.x, st.delta).cpu();
      prot.images.assign(p.data_ptr<std::uint8_t>(), p.data_ptr<std::uint8_t>() + p.numel());
      VictimOptions v;
      v.model = opt.check_model;
      v.epochs = opt.check_epochs;
      v.optimizer = opt.check_optimizer;
      v.augment = opt.check_augment;
      v.batch_size = opt.batch_size;
      v.precision = opt.precision;
      v.seed = derive_seed(opt.seed, {hash_name("val-check"), static_cast<std::uint64_t>(st.iterations_done)});
      return eval::train_victim(v, prot, n, val_rows, info, comm, {}, req.device).final_test_accuracy;
    };
  if (checkpoints)
    hooks.checkpoint = [&](const methods::NoiseState& st, torch::nn::Module& m, torch::optim::SGD& sgd) {
      auto t0 = Clock::now();
      store.save(checkpoint_meta(st, fp), n, mine.begin, st.delta, st.mask, st.masked, st.class_score, m, sgd);
      io_seconds += since(t0);
    };
  auto result = methods::run_method(
      opt, shard, model, comm, std::move(resume),
      [&](torch::nn::Module& m, torch::optim::SGD& sgd) { store.load_model(*meta, m, sgd); }, hooks);
  if (result.interrupted) {
    if (root) {
      if (opt.min_min())
        spdlog::warn("stopped by signal {}: checkpoint written to {}; run the same command to resume", signal,
                     checkpoints ? ckpt_dir : std::string("(none: --no-checkpoint)"));
      else
        spdlog::warn("stopped by signal {}: nothing written ({} is not resumable; run the command again)", signal,
                     opt::to_string(opt.method));
    }
    out.status = ProtectStatus::stopped;
    return out;
  }

  // The noise file, written collectively and published atomically.
  const auto& st = result.state;
  auto w0 = Clock::now();
  auto noise = methods::noise_rows(shard, st);
  std::vector<std::int64_t> index(static_cast<std::size_t>(mine.size()));
  for (std::int64_t i = 0; i < mine.size(); ++i) index[static_cast<std::size_t>(i)] = mine.begin + i;

  // Timings and counts over all ranks.
  double maxs[5] = {result.seconds.train_stage, result.seconds.noise_stage, result.seconds.communication,
                    result.seconds.check, io_seconds};
  comm.allreduce(maxs, 5, dist::ReduceOp::max);
  std::int64_t sums[2] = {result.seconds.noise_image_steps, result.seconds.train_images};
  comm.allreduce(sums, 2);

  auto attrs = noise_attributes(opt, req, info, n, shape.height * shape.width, sha, comm.size(), start_time, result);
  const io::Attributes seconds{{"train_stage", maxs[0]}, {"noise_stage", maxs[1]}, {"communication", maxs[2]},
                               {"check", maxs[3]}, {"io", maxs[4]}};
  for (const auto& [k, v] : seconds) attrs.emplace_back("seconds_" + k, v);
  const std::string end_time = iso_time_now();
  attrs.emplace_back("end_time", end_time);
  io::write_noise_file(files.out, files.overwrite, comm,
                       {n, shape.height, shape.width, shape.channels, shape.label_dim},
                       {mine.begin, mine.size(), noise.delta.data_ptr<float>(), noise.mask.data_ptr<std::uint8_t>(),
                        noise.protected_.data_ptr<std::uint8_t>(), rows.labels.data(), index.data()},
                       attrs);
  const double write_seconds = since(w0);

  out.iterations = st.iterations_done;
  out.train_accuracy = st.train_acc;
  out.reached_stop_acc = result.reached_stop_acc;
  out.val_checks = st.val_checks;
  if (root) {
    auto summary = to_json(attrs);
    summary["val_checks"] = nlohmann::json(st.val_checks);  // an array in the report, a JSON string in the file
    // The whole run's work (a resumed run's records include the part before the stop); the
    // rates below are this process's.
    std::int64_t run = 0, skipped = 0;
    for (const auto& a : st.active) run += a.run, skipped += a.skipped;
    summary["active_steps"] = active_json(st);
    summary["noise_image_steps"] = opt.min_min() ? run : sums[0];
    summary["noise_image_steps_skipped"] = skipped;
    for (const auto& [k, v] : seconds) summary.erase("seconds_" + k);
    auto sec = to_json(seconds);
    sec["io"] = maxs[4] + write_seconds;
    sec["total"] = total_timer.elapsed_seconds();
    summary["seconds"] = sec;
    summary["noise_images_per_second"] = maxs[1] > 0 ? static_cast<double>(sums[0]) / maxs[1] : 0.0;
    summary["train_images_per_second"] = maxs[0] > 0 ? static_cast<double>(sums[1]) / maxs[0] : 0.0;
    summary["output"] = files.out;
    summary["model_parameters"] = models::parameter_count(*model);  // the all-reduce bucket, for scaling models
    spdlog::info("wrote {}: {} rows, {} iterations, train accuracy on x+delta {:.2f}%; noise stage {:.0f} image-steps/s; total {}",
                 files.out, n, st.iterations_done, 100 * st.train_acc, summary["noise_images_per_second"].get<double>(),
                 format_duration(sec["total"].get<double>()));
    if (!files.report.empty()) io::publish_text(files.report, summary.dump(2) + "\n");
  }
  if (checkpoints && !files.keep_checkpoint) store.remove();
  if (opt.closed_loop() && !result.reached_target) {
    out.status = ProtectStatus::not_protected;
    if (root)
      spdlog::warn("{} is NOT protected to the target: after {} iterations a fresh {} victim still reaches {:.2f}% on the "
                   "clean val split (target {:.2f}%); salm export refuses it unless --allow-unchecked",
                   files.out, st.iterations_done, opt.check_model,
                   st.val_checks.empty() ? 100.0 : 100 * st.val_checks.back().second, 100 * opt.target_val_acc);
  }
  return out;
}

io::CheckpointMeta checkpoint_meta(const methods::NoiseState& st, const std::string& fingerprint) {
  io::CheckpointMeta m;
  m.iteration = st.pos.iteration;
  m.stage = st.pos.stage;
  m.step = st.pos.step;
  m.iterations_done = st.iterations_done;
  m.train_acc = st.train_acc;
  m.train_loss = st.train_loss;
  m.val_checks = st.val_checks;
  for (const auto& a : st.active) m.active.push_back({a.iteration, a.run, a.skipped});
  m.stage_steps = {st.stage_run, st.stage_skipped};
  m.fingerprint = fingerprint;
  return m;
}

/// The loop state of checkpoint `meta`: this rank's rows of it, and its position.
methods::NoiseState resume_state(const io::CheckpointStore& store, const io::CheckpointMeta& meta,
                                 const methods::ShardTensors& shard) {
  auto st = methods::empty_state(shard);
  store.load_rows(meta, shard.row_begin, st.delta, st.mask, st.masked, st.class_score);
  st.pos = {meta.iteration, meta.stage, meta.step};
  st.iterations_done = meta.iterations_done;
  st.train_acc = meta.train_acc;
  st.train_loss = meta.train_loss;
  st.val_checks = meta.val_checks;
  for (const auto& a : meta.active) st.active.push_back({static_cast<int>(a[0]), a[1], a[2]});
  st.stage_run = meta.stage_steps[0];  // MinMin::run keeps them on rank 0 only
  st.stage_skipped = meta.stage_steps[1];
  return st;
}

}  // namespace salm::app
