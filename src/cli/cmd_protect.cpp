// salm protect: SALM / EM noise for a split, data-parallel over MPI ranks, into one noise file.
#include <csignal>
#include <fstream>

#include <torch/torch.h>

#include <fmt/ranges.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "app.hpp"
#include "salm/config.hpp"
#include "salm/core/error.hpp"
#include "salm/core/options.hpp"
#include "salm/core/progress.hpp"
#include "salm/core/rng.hpp"
#include "salm/core/system.hpp"
#include "salm/dist/shard.hpp"
#include "salm/io/checkpoint.hpp"
#include "salm/io/noise_file.hpp"
#include "salm/io/publish.hpp"
#include "salm/methods/baselines.hpp"
#include "salm/methods/minmin.hpp"
#include "salm/models/training.hpp"

namespace salm::cli {
namespace {

volatile std::sig_atomic_t g_stop_signal = 0;
extern "C" void on_stop_signal(int sig) { g_stop_signal = sig; }

/// SIGTERM and SIGUSR1 ask for a checkpoint at the next step boundary, then exit code 3.
struct StopSignals {
  struct sigaction old_term {}, old_usr1 {};
  StopSignals() {
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, &old_term);
    sigaction(SIGUSR1, &sa, &old_usr1);
  }
  ~StopSignals() {
    sigaction(SIGTERM, &old_term, nullptr);
    sigaction(SIGUSR1, &old_usr1, nullptr);
  }
};

ProtectOptions protect_options(const po::variables_map& vm) {
  ProtectOptions o;
  o.method = vm["method"].as<std::string>();
  o.k = vm["k"].as<double>();
  o.epsilon = vm["epsilon"].as<double>() / 255.0;
  o.step_size = vm["step-size"].as<double>() / 255.0;
  o.pgd_steps = vm["pgd-steps"].as<int>();
  o.train_steps = vm["train-steps"].as<int>();
  o.max_iters = vm["max-iters"].as<int>();
  o.reinit_every = vm["reinit-every"].as<int>();
  o.stop_acc = vm["stop-acc"].as<double>();
  o.model = vm["model"].as<std::string>();
  o.batch_size = vm["batch-size"].as<std::int64_t>();
  o.lr = vm["lr"].as<double>();
  o.momentum = vm["momentum"].as<double>();
  o.weight_decay = vm["weight-decay"].as<double>();
  o.mask_update = vm["mask-update"].as<std::string>();
  o.mask_score = vm["mask-score"].as<std::string>();
  o.mask_scope = vm["mask-scope"].as<std::string>();
  o.init = vm["init"].as<std::string>();
  o.eot_samples = vm["eot-samples"].as<int>();
  o.eot_transforms = vm["eot-transforms"].as<std::string>();
  o.seed = vm["seed"].as<std::uint64_t>();
  o.subset = vm["subset"].as<std::int64_t>();
  o.split = vm["split"].as<std::string>();
  o.validate();
  return o;
}

/// What determines the result: a resumed run must match it.
std::string fingerprint(const ProtectOptions& o, const std::string& sha, std::int64_t rows) {
  return fmt::format("method={} k={} eps={:.9g} step={:.9g} pgd={} train={} reinit={} model={} batch={} lr={} mom={} wd={} "
                     "mask-update={} mask-score={} mask-scope={} init={} eot={}x{} seed={} split={} rows={} data={}",
                     o.method, o.k, o.epsilon, o.step_size, o.pgd_steps, o.train_steps, o.reinit_every, o.model, o.batch_size, o.lr,
                     o.momentum, o.weight_decay, o.mask_update, o.mask_score, o.mask_scope, o.init, o.eot_samples, o.eot_transforms,
                     o.seed, o.split, rows, sha);
}

}  // namespace

Subcommand protect_command() {
  Subcommand s;
  s.name = "protect";
  s.summary = "generate SALM (or EM, TAP, SP, random) protective noise for a split; writes the noise file";
  s.usage = "[mpirun -n R] salm protect --data DATA --out NOISE.h5 [options]";
  s.options = [] {
    ProtectOptions d;
    po::options_description o("protect options");
    o.add_options()
      ("data,d", po::value<std::string>()->required(), "dataset to protect (salm .h5 or MedMNIST .npz)")
      ("out,o", po::value<std::string>()->required(), "noise file to write (.h5)")
      ("method", po::value<std::string>()->default_value(d.method), "salm (masked), em (whole image, no mask), or a baseline: tap (targeted poisoning), sp (synthetic shortcuts), random (uniform noise on a random k% mask)")
      ("k", po::value<double>()->default_value(d.k), "percent of pixels perturbed per image (salm), in (0, 100]")
      ("epsilon", po::value<double>()->default_value(8.0), "L-inf budget in 1/255 units")
      ("step-size", po::value<double>()->default_value(0.8), "PGD step in 1/255 units")
      ("pgd-steps", po::value<int>()->default_value(d.pgd_steps), "PGD steps per sample per noise stage")
      ("train-steps", po::value<int>()->default_value(d.train_steps), "source-model SGD steps per outer iteration")
      ("max-iters", po::value<int>()->default_value(d.max_iters), "outer iterations (train stage + noise stage)")
      ("stop-acc", po::value<double>()->default_value(d.stop_acc), "stop once train accuracy on x+delta reaches this (0: never)")
      ("reinit-every", po::value<int>()->default_value(d.reinit_every),
       "start every N-th iteration from a freshly initialised source model and optimiser, so that the noise must "
       "be learnable from scratch (0: never, the paper)")
      ("model", po::value<std::string>()->default_value(d.model), "source model: resnet18, resnet50, vgg11, densenet121, small-cnn")
      ("batch-size", po::value<std::int64_t>()->default_value(d.batch_size), "global train batch (any number of ranks); noise batch per rank")
      ("lr", po::value<double>()->default_value(d.lr), "source-model SGD learning rate")
      ("momentum", po::value<double>()->default_value(d.momentum), "SGD momentum")
      ("weight-decay", po::value<double>()->default_value(d.weight_decay), "SGD weight decay")
      ("mask-update", po::value<std::string>()->default_value(d.mask_update), "every (recompute each noise stage) or once")
      ("mask-score", po::value<std::string>()->default_value(d.mask_score),
       "gradient (|g| summed over channels, the paper) or feasible (only the part of the step that can be applied)")
      ("mask-scope", po::value<std::string>()->default_value(d.mask_scope),
       "sample (each image's own top pixels, the paper) or class (the top pixels of its class's pooled importance)")
      ("init", po::value<std::string>()->default_value(d.init), "initial noise: zero, uniform, class (one random pattern per class) or texture (one stripe texture per class)")
      ("eot-samples", po::value<int>()->default_value(d.eot_samples), "J transformations averaged per gradient")
      ("eot-transforms", po::value<std::string>()->default_value(d.eot_transforms), "none or flip-crop")
      ("seed", po::value<std::uint64_t>()->default_value(d.seed), "seed (same seed and ranks: bit-identical noise file)")
      ("subset", po::value<std::int64_t>()->default_value(0), "protect only the first N rows (0: all)")
      ("split", po::value<std::string>()->default_value(d.split), "split to protect")
      ("checkpoint-dir", po::value<std::string>()->default_value(""), "checkpoint directory (default: OUT.ckpt)")
      ("no-checkpoint", po::bool_switch(), "write no checkpoints")
      ("keep-checkpoint", po::bool_switch(), "keep the checkpoint after success")
      ("report", po::value<std::string>()->default_value(""), "also write a JSON report (summary, per-phase seconds, throughput)")
      ("overwrite", po::bool_switch(), "replace --out (and --report) if they exist");
    add_dataset_options(o);
    return o;
  };
  s.run = [](Context& ctx) {
    const auto& vm = ctx.vm;
    auto& comm = ctx.comm;
    const bool root = comm.rank() == 0;
    // From the start: a preemption or time-limit signal during the set-up (reading the data, the
    // SHA-256, loading a checkpoint) must also end in exit code 3, so that a batch job requeues.
    StopSignals signals;
    g_stop_signal = 0;
    const std::string start_time = iso_time_now();
    Progress total_timer("protect", 0, "", false);
    ProtectOptions opt = protect_options(vm);
    const auto data_path = vm["data"].as<std::string>();
    const auto out_path = vm["out"].as<std::string>();
    const auto report_path = vm["report"].as<std::string>();
    const bool overwrite = vm["overwrite"].as<bool>();

    auto reader = data::open_dataset(data_path, dataset_open_options(vm));
    reader->require_splits({opt.split});
    const auto& info = reader->info();
    const auto shape = reader->shape(opt.split);
    std::int64_t n = opt.subset > 0 ? std::min(opt.subset, shape.rows) : shape.rows;
    if (n < 1) throw InputError(data_path, fmt::format("split '{}' is empty", opt.split));
    // Refuse a bad output now, not after hours of work.
    io::check_output_path(out_path, overwrite, comm);
    if (!report_path.empty()) io::check_output_path(report_path, overwrite, comm);

    std::string sha;
    if (root) sha = io::sha256_file(data_path);
    comm.broadcast_string(sha);

    // This rank's rows.
    auto mine = dist::shard_of(n, comm.rank(), comm.size());
    auto io_t0 = std::chrono::steady_clock::now();
    auto rows = reader->read(opt.split, mine.begin, mine.size());
    double io_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - io_t0).count();
    methods::ShardTensors shard;
    shard.x = models::images_to_tensor(rows.images.data(), rows.rows(), shape.height, shape.width, shape.channels);
    shard.multi_label = info.task == data::Task::multi_label;
    auto labels = torch::tensor(rows.labels, torch::kLong);
    shard.y = shard.multi_label ? labels.view({rows.rows(), shape.label_dim}).to(torch::kFloat) : labels;
    shard.row_begin = mine.begin;
    shard.total_rows = n;
    shard.num_classes = info.num_classes;

    torch::manual_seed(derive_seed(opt.seed, {hash_name("model")}));
    auto model = models::make_model({opt.model, shape.channels, shape.height, info.num_classes});
    if (root)
      spdlog::info("protect {} rows of '{}' ({}x{}x{}, {} classes) with {}: k={}% ({} px), eps={}/255, {} ranks, source {} ({:.1f}M parameters)",
                   n, opt.split, shape.height, shape.width, shape.channels, info.num_classes, opt.method,
                   opt.masked() ? opt.k : 100.0, opt.mask_pixels(shape.height * shape.width),
                   opt.epsilon * 255, comm.size(), opt.model, models::parameter_count(*model) / 1e6);

    // Checkpoint: resume if one matches these options and data.
    std::string ckpt_dir = vm["checkpoint-dir"].as<std::string>();
    if (ckpt_dir.empty()) ckpt_dir = out_path + ".ckpt";
    // Only the min-min loop checkpoints: the baselines are short and start over.
    const bool checkpoints = opt.min_min() && !vm["no-checkpoint"].as<bool>();
    io::CheckpointStore store(ckpt_dir, comm);
    const std::string fp = fingerprint(opt, sha, n);
    std::optional<methods::NoiseState> resume;
    std::optional<io::CheckpointMeta> meta;
    if (checkpoints) meta = store.latest();
    if (meta) {
      if (meta->fingerprint != fp)
        throw InputError(ckpt_dir, "holds a checkpoint of other options or data; remove it, or choose another "
                                   "--checkpoint-dir");
      methods::NoiseState st;
      st.delta = torch::zeros_like(shard.x);
      st.mask = torch::zeros({shard.x.size(0), shape.height, shape.width}, torch::kUInt8);
      st.masked = torch::zeros({shard.x.size(0)}, torch::kUInt8);
      store.load_rows(*meta, mine.begin, st.delta, st.mask, st.masked, st.class_score);
      st.pos = {meta->iteration, meta->stage, meta->step};
      st.iterations_done = meta->iterations_done;
      st.train_acc = meta->train_acc;
      st.train_loss = meta->train_loss;
      resume = std::move(st);
      if (root) spdlog::info("resuming from checkpoint {}/{} (iteration {}, stage {}, step {})", ckpt_dir,
                             meta->generation, meta->iteration + 1, meta->stage, meta->step);
    }

    if (comm.allreduce_scalar(std::int64_t{g_stop_signal != 0}, dist::ReduceOp::max) != 0) {
      if (root) spdlog::warn("stopped by a signal before the first step: nothing new to checkpoint; run the same command to resume");
      return 3;
    }
    methods::LoopHooks hooks;
    // SALM_STOP_AFTER_STEPS=N (a testing aid) behaves as a signal after N step boundaries.
    const int stop_after = env_positive_int("SALM_STOP_AFTER_STEPS");
    int polls = 0;
    hooks.stop_requested = [&] {
      if (stop_after > 0 && ++polls >= stop_after) g_stop_signal = SIGUSR1;
      return g_stop_signal != 0;
    };
    if (checkpoints)
      hooks.checkpoint = [&](const methods::NoiseState& st, torch::nn::Module& m, torch::optim::SGD& sgd) {
        auto t0 = std::chrono::steady_clock::now();
        io::CheckpointMeta cm;
        cm.iteration = st.pos.iteration;
        cm.stage = st.pos.stage;
        cm.step = st.pos.step;
        cm.iterations_done = st.iterations_done;
        cm.train_acc = st.train_acc;
        cm.train_loss = st.train_loss;
        cm.fingerprint = fp;
        store.save(cm, n, mine.begin, st.delta, st.mask, st.masked, st.class_score, m, sgd);
        io_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      };
    methods::LoopResult result;
    if (opt.min_min()) {
      methods::MinMin loop(opt, model, comm);
      result = loop.run(shard, std::move(resume),
                        [&](torch::nn::Module& m, torch::optim::SGD& sgd) { store.load_model(*meta, m, sgd); }, hooks);
    } else {
      result = methods::run_baseline(opt, shard, model, comm, hooks);
    }
    if (result.interrupted) {
      if (root) {
        if (opt.min_min())
          spdlog::warn("stopped by signal {}: checkpoint written to {}; run the same command to resume",
                       static_cast<int>(g_stop_signal), checkpoints ? ckpt_dir : std::string("(none: --no-checkpoint)"));
        else
          spdlog::warn("stopped by signal {}: nothing written ({} is not resumable; run the command again)",
                       static_cast<int>(g_stop_signal), opt.method);
      }
      return 3;
    }

    // The noise file, written collectively and published atomically.
    const auto& st = result.state;
    auto w0 = std::chrono::steady_clock::now();
    auto delta_nhwc = st.delta.permute({0, 2, 3, 1}).contiguous();
    auto prot = methods::protected_images(shard.x, st.delta);
    std::vector<std::int64_t> index(static_cast<std::size_t>(mine.size()));
    for (std::int64_t i = 0; i < mine.size(); ++i) index[static_cast<std::size_t>(i)] = mine.begin + i;
    auto mask = st.mask.contiguous();

    // Timings and counts over all ranks.
    double maxs[5] = {result.seconds.train_stage, result.seconds.noise_stage, result.seconds.communication,
                      result.seconds.check, io_seconds};
    comm.allreduce(maxs, 5, dist::ReduceOp::max);
    std::int64_t sums[2] = {result.seconds.noise_image_steps, result.seconds.train_images};
    comm.allreduce(sums, 2);

    io::AtomicH5Output out(out_path, overwrite, comm);
    io::create_noise_layout(out.file(), {n, shape.height, shape.width, shape.channels, shape.label_dim});
    io::write_noise_rows(out.file(), {mine.begin, mine.size(), delta_nhwc.data_ptr<float>(), mask.data_ptr<std::uint8_t>(),
                                      prot.data_ptr<std::uint8_t>(), rows.labels.data(), index.data()});
    auto& f = out.file();
    nlohmann::json summary{
        {"method", opt.method}, {"k", opt.masked() ? opt.k : 100.0}, {"epsilon", opt.epsilon * 255},
        {"step_size", opt.step_size * 255}, {"pgd_steps", opt.pgd_steps}, {"train_steps", opt.train_steps},
        {"max_iters", opt.max_iters}, {"reinit_every", opt.reinit_every}, {"stop_acc", opt.stop_acc}, {"model", opt.model}, {"batch_size", opt.batch_size},
        {"lr", opt.lr}, {"momentum", opt.momentum}, {"weight_decay", opt.weight_decay},
        {"mask_update", opt.mask_update}, {"mask_score", opt.mask_score}, {"mask_scope", opt.mask_scope}, {"init", opt.init},
        {"eot_samples", opt.eot_samples}, {"eot_transforms", opt.eot_transforms}, {"seed", opt.seed},
        {"subset", opt.subset}, {"split", opt.split}, {"rows", n},
        {"mask_pixels", opt.mask_pixels(shape.height * shape.width)},
        {"source", data_path}, {"source_sha256", sha}, {"dataset_name", info.name},
        {"num_classes", info.num_classes}, {"task", data::to_string(info.task)}, {"ranks", comm.size()},
        {"salm_version", SALM_VERSION}, {"start_time", start_time}, {"iterations", st.iterations_done},
        {"reached_stop_acc", result.reached_stop_acc}, {"final_train_accuracy", st.train_acc},
        {"final_train_loss", st.train_loss}, {"command_line", ctx.command_line}};
    // Attributes: every summary field, with epsilon and step size in 1/255 units as on the command line.
    for (const auto& [k, v] : summary.items()) {
      if (v.is_string()) f.set_attr("/", k, v.get<std::string>());
      else if (v.is_boolean()) f.set_attr("/", k, std::int64_t{v.get<bool>()});
      else if (v.is_number_integer() || v.is_number_unsigned()) f.set_attr("/", k, v.get<std::int64_t>());
      else f.set_attr("/", k, v.get<double>());
    }
    nlohmann::json seconds{{"train_stage", maxs[0]}, {"noise_stage", maxs[1]}, {"communication", maxs[2]},
                           {"check", maxs[3]}, {"io", maxs[4]}};
    for (const auto& [k, v] : seconds.items()) f.set_attr("/", "seconds_" + k, v.get<double>());
    std::string end_time = iso_time_now();
    f.set_attr("/", "end_time", end_time);
    out.commit();
    double write_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - w0).count();

    if (root) {
      seconds["io"] = maxs[4] + write_seconds;
      seconds["total"] = total_timer.elapsed_seconds();
      summary["end_time"] = end_time;
      summary["seconds"] = seconds;
      summary["noise_images_per_second"] = maxs[1] > 0 ? static_cast<double>(sums[0]) / maxs[1] : 0.0;
      summary["train_images_per_second"] = maxs[0] > 0 ? static_cast<double>(sums[1]) / maxs[0] : 0.0;
      summary["output"] = out_path;
      summary["model_parameters"] = models::parameter_count(*model);  // the all-reduce bucket, for scaling models
      spdlog::info("wrote {}: {} rows, {} iterations, train accuracy on x+delta {:.2f}%; noise stage {:.0f} image-steps/s; total {}",
                   out_path, n, st.iterations_done, 100 * st.train_acc, summary["noise_images_per_second"].get<double>(),
                   format_duration(seconds["total"].get<double>()));
      if (!report_path.empty()) io::publish_text(report_path, summary.dump(2) + "\n");
    }
    if (checkpoints && !vm["keep-checkpoint"].as<bool>()) store.remove();
    return 0;
  };
  return s;
}

}  // namespace salm::cli
