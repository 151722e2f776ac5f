// salm evaluate: train a fresh victim on clean or protected training data; report its accuracy on
// the clean test split after every epoch.
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "app.hpp"
#include "salm/config.hpp"
#include "salm/core/error.hpp"
#include "salm/core/progress.hpp"
#include "salm/core/system.hpp"
#include "salm/dist/shard.hpp"
#include "salm/eval/victim.hpp"
#include "salm/io/h5.hpp"
#include "salm/io/noise_file.hpp"
#include "salm/io/publish.hpp"

namespace salm::cli {
namespace {

/// Rows [begin, begin+count) of an open noise file's protected images, checked against the data:
/// same image shape, and the labels of the source rows named by /index.
data::SplitData protected_rows(const io::H5File& f, const data::SplitShape& s, std::int64_t begin,
                               std::int64_t count, data::DatasetReader& reader) {
  const std::string& noise_path = f.path();
  auto d = f.dims("/protected");
  if (d.size() != 4 || d[1] != s.height || d[2] != s.width || d[3] != s.channels)
    throw InputError(noise_path, fmt::format("/protected images do not have the dataset's shape {}x{}x{}", s.height,
                                             s.width, s.channels));
  auto split = f.attr_string("/", "split").value_or("train");
  data::SplitData out;
  out.split = split;
  out.row_begin = begin;
  out.shape = s;
  out.shape.rows = count;
  out.images = f.read_rows<std::uint8_t>("/protected", begin, count);
  auto index = f.read_rows<std::int64_t>("/index", begin, count);
  out.labels = f.read_rows<std::int64_t>("/labels", begin, count);
  // The labels must be those of the source rows: a noise file of another dataset is caught here.
  if (count > 0) {
    auto lo = *std::min_element(index.begin(), index.end()), hi = *std::max_element(index.begin(), index.end());
    if (lo < 0 || hi >= reader.shape(split).rows)
      throw InputError(noise_path, fmt::format("/index refers to rows outside the '{}' split of the data", split));
    auto src_labels = reader.read_labels(split, lo, hi - lo + 1);
    std::int64_t le = s.label_elems();
    for (std::int64_t i = 0; i < count; ++i)
      for (std::int64_t j = 0; j < le; ++j)
        if (src_labels[static_cast<std::size_t>((index[static_cast<std::size_t>(i)] - lo) * le + j)] !=
            out.labels[static_cast<std::size_t>(i * le + j)])
          throw InputError(noise_path, fmt::format("labels differ from the data's at row {}: a noise file of another dataset?",
                                                   index[static_cast<std::size_t>(i)]));
  }
  return out;
}

}  // namespace

Subcommand evaluate_command() {
  Subcommand s;
  s.name = "evaluate";
  s.summary = "train a fresh victim on clean or protected data and report its clean test accuracy";
  s.usage = "[mpirun -n R] salm evaluate --data DATA [--noise NOISE.h5] [options]";
  s.options = [] {
    eval::VictimOptions d;
    po::options_description o("evaluate options");
    o.add_options()
      ("data,d", po::value<std::string>()->required(), "dataset (its clean test split is always the yardstick)")
      ("noise", po::value<std::string>()->default_value(""), "noise file: train on its /protected images (else on the clean train split)")
      ("model", po::value<std::string>()->default_value(d.model), "victim model: resnet18, resnet50, vgg11, densenet121, small-cnn")
      ("epochs", po::value<int>()->default_value(d.epochs), "training epochs")
      ("batch-size", po::value<std::int64_t>()->default_value(d.batch_size), "global batch size")
      ("lr", po::value<double>()->default_value(0.0), "learning rate (0: 0.1 for sgd, 0.001 for adam), cosine schedule")
      ("optimizer", po::value<std::string>()->default_value(d.optimizer), "sgd (momentum 0.9, weight decay 5e-4) or adam")
      ("augment", po::value<std::string>()->default_value(d.augment), "none or flip-crop")
      ("seed", po::value<std::uint64_t>()->default_value(d.seed), "seed of the victim's initialisation and batches")
      ("report", po::value<std::string>()->default_value(""), "write a JSON report")
      ("curve", po::value<std::string>()->default_value(""), "write the learning curve as CSV")
      ("overwrite", po::bool_switch(), "replace --report and --curve if they exist");
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
    const auto report = vm["report"].as<std::string>(), curve = vm["curve"].as<std::string>();
    const bool overwrite = vm["overwrite"].as<bool>();
    for (const auto& p : {report, curve})
      if (!p.empty()) io::check_output_path(p, overwrite, comm);
    auto reader = data::open_dataset(data_path, dataset_open_options(vm));
    reader->require_splits({"train", "test"});
    const auto& info = reader->info();

    data::SplitData train;
    std::int64_t total = 0;
    if (noise_path.empty()) {
      total = reader->shape("train").rows;
      train = reader->read_shard("train", comm.rank(), comm.size());
    } else {
      auto f = io::H5File::open_read(noise_path);
      if (!io::is_noise_file(f)) throw InputError(noise_path, "not a salm noise file (no /delta, /mask, /protected)");
      total = f.dims("/protected")[0];
      auto mine = dist::shard_of(total, comm.rank(), comm.size());
      train = protected_rows(f, reader->shape("train"), mine.begin, mine.size(), *reader);
    }
    auto test = reader->read_shard("test", comm.rank(), comm.size());
    std::vector<std::int64_t> counts(static_cast<std::size_t>(info.num_classes), 0);
    if (info.task == data::Task::multi_label) {
      for (std::size_t j = 0; j < test.labels.size(); ++j) counts[j % counts.size()] += test.labels[j];
    } else {
      for (auto l : test.labels) counts[static_cast<std::size_t>(l)] += 1;
    }
    comm.allreduce(counts.data(), counts.size());
    std::int64_t test_rows = reader->shape("test").rows;
    double chance = eval::chance_accuracy(counts, test_rows, info.task == data::Task::multi_label);
    if (root)
      spdlog::info("victim {} trained on {} {} rows ({}), {} epochs, {} (lr {}), augment {}; clean test split: {} rows, chance {:.1f}%",
                   opt.model, total, noise_path.empty() ? "clean" : "protected", noise_path.empty() ? data_path : noise_path,
                   opt.epochs, opt.optimizer, opt.learning_rate(), opt.augment, test_rows, 100 * chance);
    auto res = eval::train_victim(opt, train, total, test, info, comm, [&](const eval::EpochResult& e) {
      if (root)
        spdlog::info("epoch {}/{}: train loss {:.4f}, train accuracy {:.2f}%, clean test accuracy {:.2f}% ({})", e.epoch,
                     opt.epochs, e.train_loss, 100 * e.train_accuracy, 100 * e.test_accuracy, format_duration(e.seconds));
    });
    if (!root) return 0;
    spdlog::info("clean test accuracy {:.2f}% (best {:.2f}%, chance {:.2f}%) after training on {} data",
                 100 * res.final_test_accuracy, 100 * res.best_test_accuracy, 100 * chance,
                 noise_path.empty() ? "clean" : "protected");
    nlohmann::json j{{"data", data_path}, {"noise", noise_path}, {"trained_on", noise_path.empty() ? "clean" : "protected"},
                     {"model", opt.model}, {"epochs", opt.epochs}, {"batch_size", opt.batch_size},
                     {"optimizer", opt.optimizer}, {"lr", opt.learning_rate()}, {"augment", opt.augment},
                     {"seed", opt.seed}, {"preprocessing", "none"}, {"ranks", comm.size()},
                     {"train_rows", total}, {"test_rows", test_rows}, {"num_classes", info.num_classes},
                     {"task", data::to_string(info.task)},
                     {"clean_test_accuracy", res.final_test_accuracy}, {"best_test_accuracy", res.best_test_accuracy},
                     {"chance_accuracy", chance}, {"seconds", res.seconds}, {"salm_version", SALM_VERSION},
                     {"command_line", ctx.command_line}};
    std::string csv = "epoch,train_loss,train_accuracy,test_accuracy,seconds\n";
    for (const auto& e : res.curve) {
      j["curve"].push_back({{"epoch", e.epoch}, {"train_loss", e.train_loss}, {"train_accuracy", e.train_accuracy},
                            {"test_accuracy", e.test_accuracy}, {"seconds", e.seconds}});
      csv += fmt::format("{},{:.6f},{:.6f},{:.6f},{:.3f}\n", e.epoch, e.train_loss, e.train_accuracy, e.test_accuracy, e.seconds);
    }
    if (!report.empty()) io::publish_text(report, j.dump(2) + "\n");
    if (!curve.empty()) io::publish_text(curve, csv);
    return 0;
  };
  return s;
}

}  // namespace salm::cli
