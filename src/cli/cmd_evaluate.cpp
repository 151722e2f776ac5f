// salm evaluate: train a fresh victim on clean or protected training data; report its accuracy on
// the clean test split after every epoch. The robustness audit: preprocessing of the training
// (and test) images, partial protection (--fraction, --classes), similarity of the protected
// images to the clean ones, and --suite, the whole audit in one run.
#include <algorithm>
#include <fstream>
#include <optional>

#include <fmt/ranges.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "app.hpp"
#include "salm/config.hpp"
#include "salm/core/error.hpp"
#include "salm/core/progress.hpp"
#include "salm/core/system.hpp"
#include "salm/dist/shard.hpp"
#include "salm/eval/figures.hpp"
#include "salm/eval/similarity.hpp"
#include "salm/eval/transforms.hpp"
#include "salm/eval/victim.hpp"
#include "salm/io/h5.hpp"
#include "salm/io/noise_file.hpp"
#include "salm/io/publish.hpp"

namespace salm::cli {

void add_noise_source_options(po::options_description& o) {
  o.add_options()
    ("noise", po::value<std::string>()->required(), "noise file")
    ("data,d", po::value<std::string>()->default_value(""), "the dataset it protects (default: the noise file's source)");
}

io::H5File open_noise_file(const std::string& path) {
  auto f = io::H5File::open_read(path);
  if (!io::is_noise_file(f)) throw InputError(path, "not a salm noise file (no /delta, /mask, /protected)");
  return f;
}

std::string noise_split(const io::H5File& f) { return f.attr_string("/", "split").value_or("train"); }

std::unique_ptr<data::DatasetReader> open_noise_source(const io::H5File& f, const std::string& data_path,
                                                       const data::OpenOptions& open) {
  std::string path = data_path.empty() ? f.attr_string("/", "source").value_or("") : data_path;
  if (path.empty()) throw InputError(f.path(), "names no source dataset; pass --data");
  auto reader = data::open_dataset(path, open);
  reader->require_splits({noise_split(f)});
  return reader;
}

ProtectedPairs read_protected_pairs(const io::H5File& f, data::DatasetReader& reader, const dist::Shard& rows) {
  const std::string& noise_path = f.path();
  auto split = noise_split(f);
  reader.require_splits({split});
  const auto& s = reader.shape(split);
  auto d = f.dims("/protected");
  if (d.size() != 4 || d[1] != s.height || d[2] != s.width || d[3] != s.channels)
    throw InputError(noise_path, fmt::format("/protected images do not have the shape {}x{}x{} of {}", s.height, s.width,
                                             s.channels, reader.path()));
  const std::int64_t begin = rows.begin, count = rows.size();
  ProtectedPairs p;
  auto& out = p.protected_;
  out.split = split;
  out.row_begin = begin;
  out.shape = s;
  out.shape.rows = count;
  out.images = f.read_rows<std::uint8_t>("/protected", begin, count);
  out.labels = f.read_rows<std::int64_t>("/labels", begin, count);
  auto index = f.read_rows<std::int64_t>("/index", begin, count);
  p.clean = out;
  if (count == 0) return p;
  // The clean rows /index names; their labels must be the noise file's: a noise file of another
  // dataset is caught here.
  auto lo = *std::min_element(index.begin(), index.end()), hi = *std::max_element(index.begin(), index.end());
  if (lo < 0 || hi >= s.rows)
    throw InputError(noise_path, fmt::format("/index refers to rows outside the '{}' split of {}", split, reader.path()));
  auto src = reader.read(split, lo, hi - lo + 1);
  const std::int64_t le = s.label_elems(), ie = s.image_elems();
  for (std::int64_t i = 0; i < count; ++i) {
    const std::int64_t r = index[static_cast<std::size_t>(i)] - lo;
    for (std::int64_t j = 0; j < le; ++j)
      if (src.labels[static_cast<std::size_t>(r * le + j)] != out.labels[static_cast<std::size_t>(i * le + j)])
        throw InputError(noise_path, fmt::format("labels differ from those of {} at row {}: a noise file of another dataset?",
                                                 reader.path(), index[static_cast<std::size_t>(i)]));
    std::copy(src.image(r), src.image(r) + ie, p.clean.image(i));
  }
  return p;
}

nlohmann::json similarity_json(const eval::Similarity& s) {
  return {{"rows", s.rows},
          {"ssim_mean", s.ssim_mean},
          {"ssim_min", s.ssim_min},
          {"psnr_mean", s.psnr_mean},
          {"psnr_min", s.psnr_min},
          {"psnr_cap", eval::kPsnrCap},
          {"l0_density_mean", s.l0_density_mean},
          {"l0_density_max", s.l0_density_max},
          {"linf_mean", s.linf_mean},
          {"linf_max", s.linf_max}};
}

std::string similarity_text(const eval::Similarity& s) {
  return fmt::format("SSIM mean {:.4f} (min {:.4f}), PSNR mean {:.2f} dB (min {:.2f}; identical images count as {:g}), "
                     "L0 density mean {:.2f}% (max {:.2f}%), L-inf mean {:.2f}/255 (max {:g}/255), {} rows",
                     s.ssim_mean, s.ssim_min, s.psnr_mean, s.psnr_min, eval::kPsnrCap, 100 * s.l0_density_mean,
                     100 * s.l0_density_max, s.linf_mean, s.linf_max, s.rows);
}

namespace {

/// One victim run of the audit.
struct RunConfig {
  std::string name;
  bool protected_ = false;            ///< train on the noise file's images (else on the clean rows)
  eval::Preprocessing pre;
  double fraction = 100;              ///< percent of rows that use protected images
  std::vector<std::int64_t> classes;  ///< only rows of these classes use protected images (empty: all)
};

struct RunOutcome {
  eval::VictimResult res;
  std::int64_t protected_rows = 0;  ///< over all ranks
};

/// This rank's training rows, read once and shared by every run of a suite.
struct TrainRows {
  data::SplitData clean;       ///< the clean train split, or the clean source rows of the noise file
  data::SplitData protected_;  ///< empty without a noise file
  std::int64_t total = 0;      ///< rows in all ranks
};

RunOutcome run_config(const RunConfig& cfg, const TrainRows& rows, const data::SplitData& test, const eval::VictimOptions& opt,
                      const data::DatasetInfo& info, dist::Communicator& comm,
                      const std::function<void(const eval::EpochResult&)>& on_epoch) {
  data::SplitData train = cfg.protected_ ? rows.protected_ : rows.clean;
  std::int64_t mine = 0;
  if (cfg.protected_) {
    std::vector<std::uint8_t> sel;
    if (cfg.fraction < 100) sel = eval::fraction_selection(rows.total, cfg.fraction, opt.seed);
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
  o.res = eval::train_victim(opt, train, rows.total, *t, info, comm, on_epoch);
  o.protected_rows = comm.allreduce_scalar(mine);
  return o;
}

nlohmann::json steps_json(const eval::Preprocessing& pre) {
  auto j = nlohmann::json::array();
  for (const auto& s : pre.steps())
    j.push_back({{"step", s.name}, {"value", s.value},
                 {"applies_to", s.test ? std::vector<std::string>{"train", "test"} : std::vector<std::string>{"train"}}});
  return j;
}

/// FILE.json -> FILE.md; any other name gets .md appended.
std::string markdown_path(const std::string& json_path) {
  const std::string ext = ".json";
  if (json_path.size() > ext.size() && json_path.compare(json_path.size() - ext.size(), ext.size(), ext) == 0)
    return json_path.substr(0, json_path.size() - ext.size()) + ".md";
  return json_path + ".md";
}

/// The test-accuracy curve of a run, for --plot.
eval::Curve curve_of(const std::string& label, const eval::VictimResult& r) {
  eval::Curve c;
  c.label = label;
  for (const auto& e : r.curve) {
    c.x.push_back(e.epoch);
    c.y.push_back(e.test_accuracy);
  }
  return c;
}

/// The curve of an earlier evaluate report (--plot-with); InputError naming the file otherwise.
eval::Curve curve_of_report(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw InputError(path, "cannot be read (--plot-with needs an evaluate report)");
  eval::Curve c;
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

/// Writes the --plot figure.
void publish_plot(const std::string& path, const std::vector<eval::Curve>& curves, double chance,
                  const eval::VictimOptions& opt, const data::DatasetInfo& info) {
  auto title = fmt::format("{}: VICTIM {} CLEAN TEST ACCURACY", info.name, opt.model);
  io::publish_text(path, eval::curves_png(curves, chance, title));
  spdlog::info("wrote {}: {} curve(s)", path, curves.size());
}

/// The audit of --suite: clean, protected, and protected with each preprocessing and partial
/// protection. Grayscale only for colour data, classes only for single-label data of 2+ classes.
std::vector<RunConfig> suite_configs(const data::SplitShape& shape, const data::DatasetInfo& info) {
  std::vector<RunConfig> v;
  auto add = [&](std::string name, bool prot) {
    RunConfig c;
    c.name = std::move(name);
    c.protected_ = prot;
    v.push_back(c);
    return &v.back();
  };
  add("clean", false);
  add("protected", true);
  for (auto f : {eval::Filter::mean, eval::Filter::median, eval::Filter::gaussian})
    add("filter " + eval::to_string(f), true)->pre.filter = f;
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

std::string pct(double x) { return fmt::format("{:.1f}%", 100 * x); }

}  // namespace

Subcommand evaluate_command() {
  Subcommand s;
  s.name = "evaluate";
  s.summary = "train a fresh victim on clean or protected data and report its clean test accuracy; the robustness audit";
  s.usage = "[mpirun -n R] salm evaluate --data DATA [--noise NOISE.h5] [options] | --data DATA --noise NOISE.h5 --suite FILE.json";
  s.options = [] {
    eval::VictimOptions d;
    po::options_description o("evaluate options");
    o.add_options()
      ("data,d", po::value<std::string>()->required(), "dataset (its clean test split is the yardstick)")
      ("eval-split", po::value<std::string>()->default_value("test"),
       "the clean split the victim is measured on: test, or val (to choose among protect settings or seeds without "
       "looking at the test split; the report's *_test_* figures are then the val split's)")
      ("noise", po::value<std::string>()->default_value(""), "noise file: train on its /protected images (else on the clean train split)")
      ("model", po::value<std::string>()->default_value(d.model), "victim model: resnet18, resnet50, vgg11, densenet121, small-cnn")
      ("epochs", po::value<int>()->default_value(d.epochs), "training epochs")
      ("batch-size", po::value<std::int64_t>()->default_value(d.batch_size), "global batch size")
      ("lr", po::value<double>()->default_value(0.0), "learning rate (0: 0.1 for sgd, 0.001 for adam), cosine schedule")
      ("optimizer", po::value<std::string>()->default_value(d.optimizer), "sgd (momentum 0.9, weight decay 5e-4) or adam")
      ("augment", po::value<std::string>()->default_value(d.augment), "none or flip-crop")
      ("seed", po::value<std::uint64_t>()->default_value(d.seed), "seed of the victim's initialisation and batches (and of --fraction's rows)")
      ("filter", po::value<std::string>(), "purify the training images: 3x3 mean, median or gaussian filter (not the test images)")
      ("jpeg", po::value<int>(), "JPEG-compress and decode the training images at quality Q in [1, 100] (not the test images)")
      ("crop", po::value<double>(), "centre crop to fraction F in (0, 1] of height and width, resized back (train and test images)")
      ("grayscale", po::bool_switch(), "BT.601 luma in every channel (train and test images)")
      ("fraction", po::value<double>(), "only P% (0 < P <= 100) of the train rows use protected images, the rest clean (needs --noise)")
      ("classes", po::value<std::string>(), "only train rows of these classes (comma-separated ids) use protected images (needs --noise)")
      ("suite", po::value<std::string>(), "run the whole audit (needs --noise); write its table to FILE.json and FILE.md")
      ("report", po::value<std::string>()->default_value(""), "write a JSON report")
      ("curve", po::value<std::string>()->default_value(""), "write the learning curve as CSV")
      ("plot", po::value<std::string>()->default_value(""), "draw the test-accuracy curve(s) into a PNG (with --suite: every row's)")
      ("plot-with", po::value<std::vector<std::string>>()->composing(),
       "also draw the curve of an earlier evaluate report (JSON), e.g. the clean run's (repeatable)")
      ("overwrite", po::bool_switch(), "replace --report, --curve or the --suite files if they exist");
    add_dataset_options(o);
    return o;
  };
  s.run = [](Context& ctx) {
    const auto& vm = ctx.vm;
    auto& comm = ctx.comm;
    const bool root = comm.rank() == 0;
    eval::VictimOptions opt;
    opt.model = vm["model"].as<std::string>();
    opt.epochs = vm["epochs"].as<int>();
    opt.batch_size = vm["batch-size"].as<std::int64_t>();
    opt.lr = vm["lr"].as<double>();
    opt.optimizer = vm["optimizer"].as<std::string>();
    opt.augment = vm["augment"].as<std::string>();
    opt.seed = vm["seed"].as<std::uint64_t>();
    opt.validate();
    const auto data_path = vm["data"].as<std::string>();
    const auto noise_path = vm["noise"].as<std::string>();
    const bool noisy = !noise_path.empty();
    const auto report = vm["report"].as<std::string>(), curve = vm["curve"].as<std::string>();
    const auto plot = vm["plot"].as<std::string>();
    std::vector<eval::Curve> curves;  // --plot-with: read and checked now, before any training
    if (vm.count("plot-with")) {
      if (plot.empty()) throw UsageError("--plot-with needs --plot");
      for (const auto& p : vm["plot-with"].as<std::vector<std::string>>()) curves.push_back(curve_of_report(p));
    }
    const bool overwrite = vm["overwrite"].as<bool>();
    const auto split = vm["eval-split"].as<std::string>();
    if (split != "test" && split != "val") throw UsageError(fmt::format("--eval-split: '{}' (test, val)", split));

    // The audit options, checked before anything is read or written.
    RunConfig cfg;
    cfg.protected_ = noisy;
    if (vm.count("filter")) cfg.pre.filter = eval::parse_filter(vm["filter"].as<std::string>());
    if (vm.count("jpeg")) {
      cfg.pre.jpeg = vm["jpeg"].as<int>();
      if (cfg.pre.jpeg < 1 || cfg.pre.jpeg > 100) throw UsageError(fmt::format("--jpeg: {} is outside [1, 100]", cfg.pre.jpeg));
    }
    if (vm.count("crop")) cfg.pre.crop = vm["crop"].as<double>();
    cfg.pre.grayscale = vm["grayscale"].as<bool>();
    cfg.pre.validate();
    if (vm.count("fraction")) {
      cfg.fraction = vm["fraction"].as<double>();
      if (!(cfg.fraction > 0 && cfg.fraction <= 100)) throw UsageError(fmt::format("--fraction: {} is outside (0, 100]", cfg.fraction));
      if (!noisy) throw UsageError("--fraction needs --noise (it chooses which rows use the protected images)");
    }
    if (vm.count("classes") && !noisy) throw UsageError("--classes needs --noise (it chooses which rows use the protected images)");
    const std::string suite = vm.count("suite") ? vm["suite"].as<std::string>() : "";
    if (vm.count("suite")) {
      if (suite.empty()) throw UsageError("--suite: an output file is needed");
      if (!noisy) throw UsageError("--suite needs --noise (it compares clean and protected training)");
      for (const char* o : {"filter", "jpeg", "crop", "fraction", "classes"})
        if (vm.count(o)) throw UsageError(fmt::format("--suite runs every audit setting itself: leave out --{}", o));
      if (cfg.pre.grayscale) throw UsageError("--suite runs every audit setting itself: leave out --grayscale");
      if (!report.empty() || !curve.empty())
        throw UsageError(fmt::format("--suite writes its own report: leave out --{}", report.empty() ? "curve" : "report"));
    }
    std::vector<std::string> outputs{report, curve, plot};
    if (!suite.empty()) outputs = {suite, markdown_path(suite), plot};
    for (const auto& p : outputs)
      if (!p.empty()) io::check_output_path(p, overwrite, comm);

    auto reader = data::open_dataset(data_path, dataset_open_options(vm));
    reader->require_splits({"train", split});
    const auto& info = reader->info();
    if (vm.count("classes")) {
      if (info.task == data::Task::multi_label)
        throw UsageError("--classes needs single-label data (" + data_path + " is multi-label)");
      cfg.classes = eval::parse_class_list(vm["classes"].as<std::string>(), info.num_classes);
    }

    TrainRows rows;
    std::optional<eval::Similarity> sim;
    if (!noisy) {
      rows.total = reader->shape("train").rows;
      rows.clean = reader->read_shard("train", comm.rank(), comm.size());
    } else {
      auto f = open_noise_file(noise_path);
      if (noise_split(f) == split)
        throw InputError(noise_path, fmt::format("protects the '{}' split, which --eval-split measures on: choose the other", split));
      rows.total = f.dims("/protected")[0];
      auto pairs = read_protected_pairs(f, *reader, dist::shard_of(rows.total, comm.rank(), comm.size()));
      rows.clean = std::move(pairs.clean);
      rows.protected_ = std::move(pairs.protected_);
      sim = eval::similarity(rows.clean, rows.protected_, comm);
      if (root) spdlog::info("protected vs clean training images: {}", similarity_text(*sim));
    }
    auto test = reader->read_shard(split, comm.rank(), comm.size());
    std::vector<std::int64_t> counts(static_cast<std::size_t>(info.num_classes), 0);
    if (info.task == data::Task::multi_label) {
      for (std::size_t j = 0; j < test.labels.size(); ++j) counts[j % counts.size()] += test.labels[j];
    } else {
      for (auto l : test.labels) counts[static_cast<std::size_t>(l)] += 1;
    }
    comm.allreduce(counts.data(), counts.size());
    std::int64_t test_rows = reader->shape(split).rows;
    double chance = eval::chance_accuracy(counts, test_rows, info.task == data::Task::multi_label);
    auto on_epoch = [&](const eval::EpochResult& e) {
      if (root)
        spdlog::info("epoch {}/{}: train loss {:.4f}, train accuracy {:.2f}%, clean {} accuracy {:.2f}%, AUC {:.3f} ({})", e.epoch,
                     opt.epochs, e.train_loss, 100 * e.train_accuracy, split, 100 * e.test_accuracy, e.test_auc,
                     format_duration(e.seconds));
    };
    nlohmann::json common{{"data", data_path}, {"noise", noise_path}, {"model", opt.model}, {"epochs", opt.epochs},
                          {"batch_size", opt.batch_size}, {"optimizer", opt.optimizer}, {"lr", opt.learning_rate()},
                          {"augment", opt.augment}, {"seed", opt.seed}, {"ranks", comm.size()},
                          {"train_rows", rows.total}, {"eval_split", split}, {"test_rows", test_rows}, {"num_classes", info.num_classes},
                          {"task", data::to_string(info.task)}, {"chance_accuracy", chance}};
    if (sim) common["similarity"] = similarity_json(*sim);

    if (!suite.empty()) {
      auto configs = suite_configs(reader->shape("train"), info);
      nlohmann::json table = nlohmann::json::array();
      double clean_final = 0, clean_best = 0, seconds = 0;
      for (std::size_t k = 0; k < configs.size(); ++k) {
        const auto& c = configs[k];
        if (root) spdlog::info("audit {}/{}: {}", k + 1, configs.size(), c.name);
        auto o = run_config(c, rows, test, opt, info, comm, on_epoch);
        curves.push_back(curve_of(c.name, o.res));
        if (k == 0) clean_final = o.res.final_test_accuracy, clean_best = o.res.best_test_accuracy;
        seconds += o.res.seconds;
        table.push_back({{"name", c.name}, {"trained_on", c.protected_ ? "protected" : "clean"},
                         {"preprocessing", c.pre.describe()}, {"preprocessing_steps", steps_json(c.pre)},
                         {"protected_fraction", static_cast<double>(o.protected_rows) / static_cast<double>(std::max<std::int64_t>(rows.total, 1))},
                         {"clean_test_accuracy", o.res.final_test_accuracy}, {"best_test_accuracy", o.res.best_test_accuracy},
                         {"clean_test_auc", o.res.final_test_auc},
                         {"difference_to_clean", o.res.final_test_accuracy - clean_final},
                         {"best_difference_to_clean", o.res.best_test_accuracy - clean_best}, {"seconds", o.res.seconds}});
        if (root)
          spdlog::info("audit {}: clean {} accuracy {:.2f}% (best {:.2f}%), {:+.1f} points vs clean training", c.name, split,
                       100 * o.res.final_test_accuracy, 100 * o.res.best_test_accuracy,
                       100 * (o.res.final_test_accuracy - clean_final));
      }
      if (!root) return 0;
      nlohmann::json j = common;
      j["rows"] = table;
      j["seconds"] = seconds;
      j["salm_version"] = SALM_VERSION;
      j["command_line"] = ctx.command_line;
      std::string md = "# salm robustness audit\n\n";
      md += fmt::format("Data `{}`, noise file `{}`. Victim `{}`, {} epochs, {} (lr {:g}), augment {}, batch {}, seed {}, {} rank(s); "
                        "{} training rows, clean {} split of {} rows (chance {}).\n\n",
                        data_path, noise_path, opt.model, opt.epochs, opt.optimizer, opt.learning_rate(), opt.augment,
                        opt.batch_size, opt.seed, comm.size(), rows.total, split, test_rows, pct(chance));
      md += fmt::format("Protected vs clean training images: {}.\n\n", similarity_text(*sim));
      md += "Filter and JPEG are applied to the training images only (a purification of the published data); crop and "
            "grayscale to the training and the test images (an input pipeline).\n\n";
      md += fmt::format("| configuration | preprocessing | protected rows | clean {} acc. | best epoch | vs clean (points) |\n", split);
      md += "|---|---|---|---|---|---|\n";
      for (const auto& r : table)
        md += fmt::format("| {} | {} | {} | {} | {} | {} |\n", r["name"].get<std::string>(), r["preprocessing"].get<std::string>(),
                          pct(r["protected_fraction"].get<double>()), pct(r["clean_test_accuracy"].get<double>()),
                          pct(r["best_test_accuracy"].get<double>()),
                          r["name"] == "clean" ? std::string("-") : fmt::format("{:+.1f}", 100 * r["difference_to_clean"].get<double>()));
      io::publish_text(suite, j.dump(2) + "\n");
      io::publish_text(markdown_path(suite), md);
      if (!plot.empty()) publish_plot(plot, curves, chance, opt, info);
      spdlog::info("audit table: {} and {}", suite, markdown_path(suite));
      return 0;
    }

    if (root)
      spdlog::info("victim {} trained on {} {} rows ({}), {} epochs, {} (lr {}), augment {}, preprocessing {}; clean {} split: {} rows, chance {:.1f}%",
                   opt.model, rows.total, noisy ? "protected" : "clean", noisy ? noise_path : data_path, opt.epochs,
                   opt.optimizer, opt.learning_rate(), opt.augment, cfg.pre.describe(), split, test_rows, 100 * chance);
    auto o = run_config(cfg, rows, test, opt, info, comm, on_epoch);
    const auto& res = o.res;
    if (!root) return 0;
    const double frac = static_cast<double>(o.protected_rows) / static_cast<double>(std::max<std::int64_t>(rows.total, 1));
    spdlog::info("clean {} accuracy {:.2f}% (best {:.2f}%, chance {:.2f}%) after training on {} data ({} of the rows protected)",
                 split, 100 * res.final_test_accuracy, 100 * res.best_test_accuracy, 100 * chance, noisy ? "protected" : "clean",
                 pct(frac));
    nlohmann::json j = common;
    j.update({{"trained_on", noisy ? "protected" : "clean"}, {"preprocessing", cfg.pre.describe()},
              {"preprocessing_steps", steps_json(cfg.pre)}, {"fraction", noisy ? nlohmann::json(cfg.fraction) : nlohmann::json()},
              {"classes", cfg.classes}, {"protected_rows", o.protected_rows}, {"protected_fraction", frac},
              {"clean_test_accuracy", res.final_test_accuracy}, {"best_test_accuracy", res.best_test_accuracy},
              {"clean_test_auc", res.final_test_auc}, {"seconds", res.seconds}, {"salm_version", SALM_VERSION}, {"command_line", ctx.command_line}});
    std::string csv = "epoch,train_loss,train_accuracy,test_accuracy,test_auc,seconds\n";
    for (const auto& e : res.curve) {
      j["curve"].push_back({{"epoch", e.epoch}, {"train_loss", e.train_loss}, {"train_accuracy", e.train_accuracy},
                            {"test_accuracy", e.test_accuracy}, {"test_auc", e.test_auc}, {"seconds", e.seconds}});
      csv += fmt::format("{},{:.6f},{:.6f},{:.6f},{:.6f},{:.3f}\n", e.epoch, e.train_loss, e.train_accuracy, e.test_accuracy,
                         e.test_auc, e.seconds);
    }
    if (!report.empty()) io::publish_text(report, j.dump(2) + "\n");
    if (!curve.empty()) io::publish_text(curve, csv);
    if (!plot.empty()) {
      curves.push_back(curve_of(noisy ? (cfg.pre.describe() == "none" ? "protected" : "protected, " + cfg.pre.describe()) : "clean", res));
      publish_plot(plot, curves, chance, opt, info);
    }
    return 0;
  };
  return s;
}

}  // namespace salm::cli
