#include "salm/eval/audit.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <fstream>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "salm/config.hpp"
#include "salm/core/error.hpp"
#include "salm/core/rng.hpp"

namespace salm::eval {

std::vector<std::uint8_t> fraction_selection(std::int64_t total, double percent, std::uint64_t seed) {
  if (!(percent > 0.0 && percent <= 100.0)) throw UsageError(fmt::format("--fraction: {} is outside (0, 100]", percent));
  std::vector<std::uint8_t> sel(static_cast<std::size_t>(std::max<std::int64_t>(total, 0)), 0);
  if (total <= 0) return sel;
  auto count = std::clamp<std::int64_t>(std::llround(percent / 100.0 * static_cast<double>(total)), 1, total);
  std::vector<std::pair<std::uint64_t, std::int64_t>> keys(static_cast<std::size_t>(total));
  const std::uint64_t stream = hash_name("fraction");
  for (std::int64_t r = 0; r < total; ++r)
    keys[static_cast<std::size_t>(r)] = {derive_seed(seed, {stream, static_cast<std::uint64_t>(r)}), r};
  std::nth_element(keys.begin(), keys.begin() + (count - 1), keys.end());
  for (std::int64_t i = 0; i < count; ++i) sel[static_cast<std::size_t>(keys[static_cast<std::size_t>(i)].second)] = 1;
  return sel;
}

std::vector<std::int64_t> parse_class_list(const std::string& list, std::int64_t num_classes) {
  std::vector<std::int64_t> out;
  std::size_t pos = 0;
  while (pos <= list.size()) {
    auto comma = list.find(',', pos);
    if (comma == std::string::npos) comma = list.size();
    std::string item = list.substr(pos, comma - pos);
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    char* end = nullptr;
    errno = 0;
    long long v = item.empty() ? 0 : std::strtoll(item.c_str(), &end, 10);
    if (item.empty() || errno != 0 || *end != '\0')
      throw UsageError(fmt::format("--classes: '{}' is not a comma-separated list of class ids", list));
    if (v < 0 || v >= num_classes)
      throw UsageError(fmt::format("--classes: class {} is outside [0, {})", v, num_classes));
    out.push_back(v);
    pos = comma + 1;
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::string AuditRun::label() const {
  if (!protected_) return "clean";
  return pre.empty() ? "protected" : "protected, " + pre.describe();
}

RunOutcome run(const AuditRun& cfg, const TrainRows& rows, const data::SplitData& test, const VictimOptions& opt,
               const data::DatasetInfo& info, dist::Communicator& comm,
               const std::function<void(const EpochResult&)>& on_epoch, const Device& device) {
  data::SplitData train = cfg.protected_ ? rows.protected_ : rows.clean;
  std::int64_t mine = 0;
  if (cfg.protected_) {
    std::vector<std::uint8_t> sel;
    if (cfg.fraction < 100) sel = fraction_selection(rows.total, cfg.fraction, opt.seed);
    const std::int64_t ie = train.shape.image_elems();
    for (std::int64_t i = 0; i < train.rows(); ++i) {
      bool use = sel.empty() || sel[static_cast<std::size_t>(train.row_begin + i)] != 0;
      if (!cfg.classes.empty())
        use = use && std::binary_search(cfg.classes.begin(), cfg.classes.end(), train.labels[static_cast<std::size_t>(i)]);
      if (use) ++mine;
      else std::copy(rows.clean.image(i), rows.clean.image(i) + ie, train.image(i));
    }
  }
  cfg.pre.apply_train(train);
  const data::SplitData* t = &test;
  data::SplitData test_copy;
  if (cfg.pre.crop != 1.0 || cfg.pre.grayscale) {
    test_copy = test;
    cfg.pre.apply_test(test_copy);
    t = &test_copy;
  }
  RunOutcome o;
  o.result = train_victim(opt, train, rows.total, *t, info, comm, on_epoch, device);
  o.protected_rows = comm.allreduce_scalar(mine);
  o.protected_fraction = static_cast<double>(o.protected_rows) / static_cast<double>(std::max<std::int64_t>(rows.total, 1));
  return o;
}

std::vector<AuditRun> suite_runs(const data::SplitShape& shape, const data::DatasetInfo& info) {
  std::vector<AuditRun> v;
  auto add = [&](std::string name, bool prot) {
    AuditRun c;
    c.name = std::move(name);
    c.protected_ = prot;
    v.push_back(c);
    return &v.back();
  };
  add("clean", false);
  add("protected", true);
  for (auto f : {data::Filter::mean, data::Filter::median, data::Filter::gaussian})
    add("filter " + opt::to_string(f), true)->pre.filter = f;
  add("crop 0.8", true)->pre.crop = 0.8;
  if (shape.channels == 3) add("grayscale", true)->pre.grayscale = true;
  for (int q : {75, 30}) add(fmt::format("jpeg {}", q), true)->pre.jpeg = q;
  add("fraction 50", true)->fraction = 50;
  if (info.task != data::Task::multi_label && info.num_classes >= 2) {
    std::vector<std::int64_t> half;
    for (std::int64_t c = 0; c < info.num_classes / 2; ++c) half.push_back(c);
    add(fmt::format("classes {}", fmt::join(half, ",")), true)->classes = half;
  }
  return v;
}

double chance_accuracy(const data::SplitData& test, std::int64_t total_rows, const data::DatasetInfo& info,
                       dist::Communicator& comm) {
  std::vector<std::int64_t> counts(static_cast<std::size_t>(info.num_classes), 0);
  const bool multi = info.task == data::Task::multi_label;
  if (multi) {
    for (std::size_t j = 0; j < test.labels.size(); ++j) counts[j % counts.size()] += test.labels[j];
  } else {
    for (auto l : test.labels) counts[static_cast<std::size_t>(l)] += 1;
  }
  comm.allreduce(counts.data(), counts.size());
  return chance_accuracy(counts, total_rows, multi);
}

// ---- reports ------------------------------------------------------------------------------------

namespace {

std::string pct(double x) { return fmt::format("{:.1f}%", 100 * x); }

nlohmann::json steps_json(const data::Preprocessing& pre) {
  auto j = nlohmann::json::array();
  for (const auto& s : pre.steps())
    j.push_back({{"step", s.name}, {"value", s.value},
                 {"applies_to", s.test ? std::vector<std::string>{"train", "test"} : std::vector<std::string>{"train"}}});
  return j;
}

nlohmann::json to_json(const opt::Value& v) {
  return std::visit(
      [](const auto& x) -> nlohmann::json {
        if constexpr (std::is_same_v<std::decay_t<decltype(x)>, std::monostate>) return nullptr;
        else return x;
      },
      v);
}

/// The fields every evaluate report starts with: the victim's options (from their table) and the data.
nlohmann::json common_json(const ReportContext& c) {
  nlohmann::json j;
  for (const auto& [k, v] : opt::values(c.victim)) j[k] = to_json(v);
  j["lr"] = c.victim.learning_rate();  // the rate used, not 0 for "the optimiser's default"
  j.update({{"data", c.data_path}, {"noise", c.noise_path}, {"ranks", c.ranks}, {"train_rows", c.train_rows},
            {"eval_split", c.eval_split}, {"test_rows", c.test_rows}, {"num_classes", c.info.num_classes},
            {"task", data::to_string(c.info.task)}, {"chance_accuracy", c.chance}});
  if (c.similarity) j["similarity"] = similarity_json(*c.similarity);
  return j;
}

}  // namespace

nlohmann::json run_report(const ReportContext& ctx, const AuditRun& run, const RunOutcome& o) {
  const auto& res = o.result;
  nlohmann::json j = common_json(ctx);
  j.update({{"trained_on", run.protected_ ? "protected" : "clean"}, {"preprocessing", run.pre.describe()},
            {"preprocessing_steps", steps_json(run.pre)},
            {"fraction", run.protected_ ? nlohmann::json(run.fraction) : nlohmann::json()}, {"classes", run.classes},
            {"protected_rows", o.protected_rows}, {"protected_fraction", o.protected_fraction},
            {"clean_test_accuracy", res.final_test_accuracy}, {"best_test_accuracy", res.best_test_accuracy},
            {"clean_test_auc", res.final_test_auc}, {"seconds", res.seconds}, {"salm_version", SALM_VERSION},
            {"command_line", ctx.command_line}});
  for (const auto& e : res.curve)
    j["curve"].push_back({{"epoch", e.epoch}, {"train_loss", e.train_loss}, {"train_accuracy", e.train_accuracy},
                          {"test_accuracy", e.test_accuracy}, {"test_auc", e.test_auc}, {"seconds", e.seconds}});
  return j;
}

std::string curve_csv(const VictimResult& r) {
  std::string csv = "epoch,train_loss,train_accuracy,test_accuracy,test_auc,seconds\n";
  for (const auto& e : r.curve)
    csv += fmt::format("{},{:.6f},{:.6f},{:.6f},{:.6f},{:.3f}\n", e.epoch, e.train_loss, e.train_accuracy, e.test_accuracy,
                       e.test_auc, e.seconds);
  return csv;
}

nlohmann::json suite_report(const ReportContext& ctx, const std::vector<SuiteRow>& rows) {
  nlohmann::json table = nlohmann::json::array();
  double clean_final = 0, clean_best = 0, seconds = 0;
  for (std::size_t k = 0; k < rows.size(); ++k) {
    const auto& c = rows[k].run;
    const auto& r = rows[k].outcome.result;
    if (k == 0) clean_final = r.final_test_accuracy, clean_best = r.best_test_accuracy;
    seconds += r.seconds;
    table.push_back({{"name", c.name}, {"trained_on", c.protected_ ? "protected" : "clean"},
                     {"preprocessing", c.pre.describe()}, {"preprocessing_steps", steps_json(c.pre)},
                     {"protected_fraction", rows[k].outcome.protected_fraction},
                     {"clean_test_accuracy", r.final_test_accuracy}, {"best_test_accuracy", r.best_test_accuracy},
                     {"clean_test_auc", r.final_test_auc}, {"difference_to_clean", r.final_test_accuracy - clean_final},
                     {"best_difference_to_clean", r.best_test_accuracy - clean_best}, {"seconds", r.seconds}});
  }
  nlohmann::json j = common_json(ctx);
  j["rows"] = table;
  j["seconds"] = seconds;
  j["salm_version"] = SALM_VERSION;
  j["command_line"] = ctx.command_line;
  return j;
}

std::string suite_markdown(const ReportContext& ctx, const std::vector<SuiteRow>& rows) {
  const auto& v = ctx.victim;
  std::string md = "# salm robustness audit\n\n";
  md += fmt::format("Data `{}`, noise file `{}`. Victim `{}`, {} epochs, {} (lr {:g}), augment {}, batch {}, seed {}, {} rank(s); "
                    "{} training rows, clean {} split of {} rows (chance {}).\n\n",
                    ctx.data_path, ctx.noise_path, v.model, v.epochs, opt::to_string(v.optimizer), v.learning_rate(),
                    opt::to_string(v.augment), v.batch_size, v.seed, ctx.ranks, ctx.train_rows, ctx.eval_split,
                    ctx.test_rows, pct(ctx.chance));
  if (ctx.similarity) md += fmt::format("Protected vs clean training images: {}.\n\n", similarity_text(*ctx.similarity));
  md += "Filter and JPEG are applied to the training images only (a purification of the published data); crop and "
        "grayscale to the training and the test images (an input pipeline).\n\n";
  md += fmt::format("| configuration | preprocessing | protected rows | clean {} acc. | best epoch | vs clean (points) |\n",
                    ctx.eval_split);
  md += "|---|---|---|---|---|---|\n";
  const double clean_final = rows.empty() ? 0 : rows[0].outcome.result.final_test_accuracy;
  for (std::size_t k = 0; k < rows.size(); ++k) {
    const auto& r = rows[k].outcome.result;
    md += fmt::format("| {} | {} | {} | {} | {} | {} |\n", rows[k].run.name, rows[k].run.pre.describe(),
                      pct(rows[k].outcome.protected_fraction), pct(r.final_test_accuracy), pct(r.best_test_accuracy),
                      rows[k].run.name == "clean" ? std::string("-")
                                                  : fmt::format("{:+.1f}", 100 * (r.final_test_accuracy - clean_final)));
  }
  return md;
}

nlohmann::json similarity_json(const Similarity& s) {
  return {{"rows", s.rows},
          {"ssim_mean", s.ssim_mean},
          {"ssim_min", s.ssim_min},
          {"psnr_mean", s.psnr_mean},
          {"psnr_min", s.psnr_min},
          {"psnr_cap", kPsnrCap},
          {"l0_density_mean", s.l0_density_mean},
          {"l0_density_max", s.l0_density_max},
          {"linf_mean", s.linf_mean},
          {"linf_max", s.linf_max}};
}

std::string similarity_text(const Similarity& s) {
  return fmt::format("SSIM mean {:.4f} (min {:.4f}), PSNR mean {:.2f} dB (min {:.2f}; identical images count as {:g}), "
                     "L0 density mean {:.2f}% (max {:.2f}%), L-inf mean {:.2f}/255 (max {:g}/255), {} rows",
                     s.ssim_mean, s.ssim_min, s.psnr_mean, s.psnr_min, kPsnrCap, 100 * s.l0_density_mean,
                     100 * s.l0_density_max, s.linf_mean, s.linf_max, s.rows);
}

Curve curve_of(const std::string& label, const VictimResult& r) {
  Curve c;
  c.label = label;
  for (const auto& e : r.curve) {
    c.x.push_back(e.epoch);
    c.y.push_back(e.test_accuracy);
  }
  return c;
}

Curve curve_of_report(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw InputError(path, "cannot be read (--plot-with needs an evaluate report)");
  Curve c;
  try {
    auto j = nlohmann::json::parse(in);
    c.label = j.value("trained_on", std::string("earlier run"));
    if (j.contains("preprocessing") && j["preprocessing"].is_string() && j["preprocessing"] != "none")
      c.label += ", " + j["preprocessing"].get<std::string>();
    for (const auto& e : j.at("curve")) {
      c.x.push_back(e.at("epoch").get<double>());
      c.y.push_back(e.at("test_accuracy").get<double>());
    }
  } catch (const nlohmann::json::exception& e) {
    throw InputError(path, fmt::format("is not an evaluate report with a curve ({})", e.what()));
  }
  if (c.x.empty()) throw InputError(path, "has an empty curve");
  return c;
}

}  // namespace salm::eval
