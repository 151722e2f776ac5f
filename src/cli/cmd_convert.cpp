// salm convert: a MedMNIST .npz (or any dataset salm reads) into the salm dataset HDF5 layout.
#include <map>

#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "app.hpp"
#include "salm/core/error.hpp"
#include "salm/core/progress.hpp"
#include "salm/data/h5_dataset.hpp"
#include "salm/data/reader.hpp"

namespace salm::cli {

void add_dataset_options(po::options_description& o) {
  o.add_options()
    ("name", po::value<std::string>()->default_value(""), "dataset name for .npz or IDX input (default: the file's stem)")
    ("num-classes", po::value<std::int64_t>(), "number of classes of .npz or IDX input (default: max label + 1, or labels per image)")
    ("task", po::value<std::string>(), "task of .npz or IDX input: multi-class, multi-label, binary-class or "
                                       "ordinal-regression (default: from the label shape)");
}

data::OpenOptions dataset_open_options(const po::variables_map& vm) {
  data::OpenOptions open;
  open.name = vm["name"].as<std::string>();
  if (vm.count("num-classes")) {
    open.num_classes = vm["num-classes"].as<std::int64_t>();
    if (*open.num_classes < 1) throw UsageError("--num-classes must be positive");
  }
  if (vm.count("task")) open.task = data::parse_task(vm["task"].as<std::string>());
  return open;
}

namespace {

/// Applies --max-rows ("N" for every split, or "SPLIT=N") to the shapes of the splits to write.
void limit_rows(const std::vector<std::string>& specs, std::map<std::string, data::SplitShape>& shapes) {
  for (const auto& spec : specs) {
    auto eq = spec.find('=');
    std::string split = eq == std::string::npos ? "" : spec.substr(0, eq);
    std::string number = eq == std::string::npos ? spec : spec.substr(eq + 1);
    std::int64_t n = -1;
    try {
      std::size_t used = 0;
      n = std::stoll(number, &used);
      if (used != number.size()) n = -1;
    } catch (const std::exception&) {
    }
    if (n < 1) throw UsageError(fmt::format("--max-rows '{}': expected N or SPLIT=N with N >= 1", spec));
    if (!split.empty() && !shapes.count(split))
      throw UsageError(fmt::format("--max-rows '{}': the input has no split '{}'", spec, split));
    for (auto& [name, shape] : shapes)
      if (split.empty() || name == split) shape.rows = std::min(shape.rows, n);
  }
}

/// --val-from-train N: the last N train rows (after --max-rows) become a val split, for inputs that
/// have none (Fashion-MNIST). Returns the first train row that moved (the train split keeps those before).
std::int64_t carve_val(std::int64_t n, const std::string& in, std::map<std::string, data::SplitShape>& shapes) {
  if (n < 1) throw UsageError(fmt::format("--val-from-train: {} rows, expected N >= 1", n));
  auto train = shapes.find("train");
  if (train == shapes.end()) throw InputError(in, "has no train split to take --val-from-train rows from");
  if (auto val = shapes.find("val"); val != shapes.end() && val->second.rows > 0)
    throw InputError(in, fmt::format("already has a val split ({} rows): leave out --val-from-train", val->second.rows));
  if (n >= train->second.rows)
    throw UsageError(fmt::format("--val-from-train {}: must leave some of the {} train rows", n, train->second.rows));
  train->second.rows -= n;
  shapes["val"] = train->second;
  shapes["val"].rows = n;
  return train->second.rows;
}

}  // namespace

Subcommand convert_command() {
  Subcommand s;
  s.name = "convert";
  s.summary = "convert a MedMNIST .npz or an IDX directory (Fashion-MNIST) into a salm dataset .h5";
  s.usage = "[mpirun -n R] salm convert --in FILE.npz|IDX_DIR --out FILE.h5 [options]";
  s.options = [] {
    po::options_description o("convert options");
    o.add_options()
      ("in,i", po::value<std::string>()->required(), "input dataset: MedMNIST .npz, a directory of IDX files (MNIST/Fashion-MNIST, plain or .gz), or a salm .h5")
      ("out,o", po::value<std::string>()->required(), "output dataset file (.h5)")
      ("overwrite", po::bool_switch(), "replace --out if it exists")
      ("max-rows", po::value<std::vector<std::string>>()->composing(),
       "keep only the first N rows: N (every split) or SPLIT=N (repeatable), e.g. --max-rows train=5000")
      ("val-from-train", po::value<std::int64_t>(),
       "make a val split of the last N train rows (after --max-rows), for inputs without one (Fashion-MNIST); "
       "the train split keeps the rows before them");
    add_dataset_options(o);
    return o;
  };
  s.positional.add("in", 1).add("out", 1);
  s.run = [](Context& ctx) {
    const auto& vm = ctx.vm;
    data::OpenOptions open = dataset_open_options(vm);
    const auto in = vm["in"].as<std::string>();
    const auto out = vm["out"].as<std::string>();
    Progress timer("convert", 0, "", false);
    auto reader = data::open_dataset(in, open);
    std::map<std::string, data::SplitShape> shapes;
    for (const auto& split : reader->splits()) shapes[split] = reader->shape(split);
    if (vm.count("max-rows")) limit_rows(vm["max-rows"].as<std::vector<std::string>>(), shapes);
    const bool carved = vm.count("val-from-train") > 0;
    const std::int64_t val_begin = carved ? carve_val(vm["val-from-train"].as<std::int64_t>(), in, shapes) : 0;
    data::write_dataset_file(out, vm["overwrite"].as<bool>(), ctx.comm, reader->info(), shapes,
                             [&](const std::string& split, std::int64_t begin, std::int64_t count) {
                               if (!carved || split != "val") return reader->read(split, begin, count);
                               auto rows = reader->read("train", val_begin + begin, count);
                               rows.split = "val";
                               rows.row_begin = begin;
                               return rows;
                             });
    const auto& info = reader->info();
    std::string rows;
    for (const auto& [sp, shape] : shapes) rows += fmt::format("{}{} {}", rows.empty() ? "" : ", ", sp, shape.rows);
    spdlog::info("wrote {}: '{}', {}, {} classes, {} ({})", out, info.name, to_string(info.task),
                 info.num_classes, rows, format_duration(timer.elapsed_seconds()));
    return 0;
  };
  return s;
}

}  // namespace salm::cli
