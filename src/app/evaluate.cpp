#include "salm/app/evaluate.hpp"

#include <optional>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "salm/core/error.hpp"
#include "salm/core/progress.hpp"
#include "salm/data/noise_source.hpp"
#include "salm/dist/shard.hpp"
#include "salm/eval/figures.hpp"
#include "salm/io/noise_file.hpp"
#include "salm/io/publish.hpp"
#include "salm/models/device.hpp"

namespace salm::app {

std::string markdown_path(const std::string& json_path) {
  const std::string ext = ".json";
  if (json_path.size() > ext.size() && json_path.compare(json_path.size() - ext.size(), ext.size(), ext) == 0)
    return json_path.substr(0, json_path.size() - ext.size()) + ".md";
  return json_path + ".md";
}

namespace {

/// The run of a single evaluate invocation, its settings checked before anything is read.
eval::AuditRun single_run(const AuditSettings& a, bool noisy) {
  eval::AuditRun run;
  run.protected_ = noisy;
  if (a.filter) run.pre.filter = *a.filter;
  if (a.jpeg) run.pre.jpeg = *a.jpeg;
  if (a.crop) run.pre.crop = *a.crop;
  run.pre.grayscale = a.grayscale;
  run.pre.validate();
  if (a.fraction) {
    if (!noisy) throw UsageError("--fraction needs --noise (it chooses which rows use the protected images)");
    run.fraction = *a.fraction;
  }
  if (a.classes && !noisy) throw UsageError("--classes needs --noise (it chooses which rows use the protected images)");
  return run;
}

void check_suite(const EvaluateRequest& r) {
  const auto& a = r.audit;
  if (r.files.suite->empty()) throw UsageError("--suite: an output file is needed");
  if (r.files.noise.empty()) throw UsageError("--suite needs --noise (it compares clean and protected training)");
  for (auto [given, name] : {std::pair{a.filter.has_value(), "filter"}, {a.jpeg.has_value(), "jpeg"},
                             {a.crop.has_value(), "crop"}, {a.fraction.has_value(), "fraction"},
                             {a.classes.has_value(), "classes"}, {a.grayscale, "grayscale"}})
    if (given) throw UsageError(fmt::format("--suite runs every audit setting itself: leave out --{}", name));
  if (!r.files.report.empty() || !r.files.curve.empty())
    throw UsageError(fmt::format("--suite writes its own report: leave out --{}", r.files.report.empty() ? "curve" : "report"));
}

void publish_plot(const std::string& path, const std::vector<eval::Curve>& curves, double chance,
                  const VictimOptions& opt, const data::DatasetInfo& info) {
  auto title = fmt::format("{}: VICTIM {} CLEAN TEST ACCURACY", info.name, opt.model);
  io::publish_text(path, eval::curves_png(curves, chance, title));
  spdlog::info("wrote {}: {} curve(s)", path, curves.size());
}

std::string pct(double x) { return fmt::format("{:.1f}%", 100 * x); }

}  // namespace

EvaluateResult evaluate(const EvaluateRequest& req, dist::Communicator& comm) {
  const bool root = comm.rank() == 0;
  const auto& opt = req.victim;
  const auto& files = req.files;
  const auto& split = req.audit.eval_split;
  opt.validate();
  req.open.validate();
  opt::validate_fields(req.audit);
  models::configure_device(req.device, opt.precision);
  const bool noisy = !files.noise.empty();
  std::vector<eval::Curve> curves;  // --plot-with: read and checked now, before any training
  if (!files.plot_with.empty()) {
    if (files.plot.empty()) throw UsageError("--plot-with needs --plot");
    for (const auto& p : files.plot_with) curves.push_back(eval::curve_of_report(p));
  }
  if (split != "test" && split != "val") throw UsageError(fmt::format("--eval-split: '{}' (test, val)", split));

  // The audit settings, checked before anything is read or written.
  auto single = single_run(req.audit, noisy);
  const bool suite = files.suite.has_value();
  if (suite) check_suite(req);
  std::vector<std::string> outputs{files.report, files.curve, files.plot};
  if (suite) outputs = {*files.suite, markdown_path(*files.suite), files.plot};
  for (const auto& p : outputs)
    if (!p.empty()) io::check_output_path(p, files.overwrite, comm);

  auto reader = data::open_dataset(files.data, req.open);
  reader->require_splits({"train", split});
  const auto& info = reader->info();
  if (req.audit.classes) {
    if (info.task == data::Task::multi_label)
      throw UsageError("--classes needs single-label data (" + files.data + " is multi-label)");
    single.classes = eval::parse_class_list(*req.audit.classes, info.num_classes);
  }

  eval::TrainRows rows;
  eval::ReportContext ctx;
  if (!noisy) {
    rows.total = reader->shape("train").rows;
    rows.clean = reader->read_shard("train", comm.rank(), comm.size());
  } else {
    auto noise = io::NoiseFile::open(files.noise);
    if (noise.split() == split)
      throw InputError(files.noise, fmt::format("protects the '{}' split, which --eval-split measures on: choose the other", split));
    rows.total = noise.rows();
    auto pairs = data::read_protected_pairs(noise, *reader, dist::shard_of(rows.total, comm.rank(), comm.size()));
    rows.clean = std::move(pairs.clean);
    rows.protected_ = std::move(pairs.protected_);
    ctx.similarity = eval::similarity(rows.clean, rows.protected_, comm);
    if (root) spdlog::info("protected vs clean training images: {}", eval::similarity_text(*ctx.similarity));
  }
  auto test = reader->read_shard(split, comm.rank(), comm.size());
  const std::int64_t test_rows = reader->shape(split).rows;
  EvaluateResult result;
  result.chance = eval::chance_accuracy(test, test_rows, info, comm);
  ctx.data_path = files.data;
  ctx.noise_path = files.noise;
  ctx.eval_split = split;
  ctx.command_line = req.command_line;
  ctx.victim = opt;
  ctx.ranks = comm.size();
  ctx.train_rows = rows.total;
  ctx.test_rows = test_rows;
  ctx.info = info;
  ctx.chance = result.chance;
  auto on_epoch = [&](const eval::EpochResult& e) {
    if (root)
      spdlog::info("epoch {}/{}: train loss {:.4f}, train accuracy {:.2f}%, clean {} accuracy {:.2f}%, AUC {:.3f} ({})", e.epoch,
                   opt.epochs, e.train_loss, 100 * e.train_accuracy, split, 100 * e.test_accuracy, e.test_auc,
                   format_duration(e.seconds));
  };

  if (suite) {
    auto runs = eval::suite_runs(reader->shape("train"), info);
    for (std::size_t k = 0; k < runs.size(); ++k) {
      const auto& c = runs[k];
      if (root) spdlog::info("audit {}/{}: {}", k + 1, runs.size(), c.name);
      auto o = eval::run(c, rows, test, opt, info, comm, on_epoch, req.device);
      curves.push_back(eval::curve_of(c.name, o.result));
      result.rows.push_back({c, o});
      if (root)
        spdlog::info("audit {}: clean {} accuracy {:.2f}% (best {:.2f}%), {:+.1f} points vs clean training", c.name, split,
                     100 * o.result.final_test_accuracy, 100 * o.result.best_test_accuracy,
                     100 * (o.result.final_test_accuracy - result.rows[0].outcome.result.final_test_accuracy));
    }
    if (!root) return result;
    io::publish_text(*files.suite, eval::suite_report(ctx, result.rows).dump(2) + "\n");
    io::publish_text(markdown_path(*files.suite), eval::suite_markdown(ctx, result.rows));
    if (!files.plot.empty()) publish_plot(files.plot, curves, result.chance, opt, info);
    spdlog::info("audit table: {} and {}", *files.suite, markdown_path(*files.suite));
    return result;
  }

  if (root)
    spdlog::info("victim {} trained on {} {} rows ({}), {} epochs, {} (lr {}), augment {}, preprocessing {}; clean {} split: {} rows, chance {:.1f}%",
                 opt.model, rows.total, noisy ? "protected" : "clean", noisy ? files.noise : files.data, opt.epochs,
                 opt::to_string(opt.optimizer), opt.learning_rate(), opt::to_string(opt.augment), single.pre.describe(), split,
                 test_rows, 100 * result.chance);
  auto o = eval::run(single, rows, test, opt, info, comm, on_epoch, req.device);
  result.rows.push_back({single, o});
  if (!root) return result;
  const auto& res = o.result;
  spdlog::info("clean {} accuracy {:.2f}% (best {:.2f}%, chance {:.2f}%) after training on {} data ({} of the rows protected)",
               split, 100 * res.final_test_accuracy, 100 * res.best_test_accuracy, 100 * result.chance,
               noisy ? "protected" : "clean", pct(o.protected_fraction));
  if (!files.report.empty()) io::publish_text(files.report, eval::run_report(ctx, single, o).dump(2) + "\n");
  if (!files.curve.empty()) io::publish_text(files.curve, eval::curve_csv(res));
  if (!files.plot.empty()) {
    curves.push_back(eval::curve_of(single.label(), res));
    publish_plot(files.plot, curves, result.chance, opt, info);
  }
  return result;
}

}  // namespace salm::app
