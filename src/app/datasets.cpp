#include "salm/app/datasets.hpp"

#include <map>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "salm/core/error.hpp"
#include "salm/core/progress.hpp"
#include "salm/data/h5_dataset.hpp"

namespace salm::app {
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

void synth(const SynthRequest& req, dist::Communicator& comm) {
  const auto& opt = req.options;
  opt.validate();
  std::map<std::string, data::SplitShape> shapes;
  for (const auto& split : data::split_names())
    if (opt.rows(split) > 0) shapes[split] = data::synth_shape(opt, split);
  Progress timer("synth", 0, "", false);
  data::write_dataset_file(req.output.out, req.output.overwrite, comm, data::synth_info(opt), shapes,
                           [&](const std::string& split, std::int64_t begin, std::int64_t count) {
                             return data::synth_rows(opt, split, begin, count);
                           });
  spdlog::info("wrote {}: {} train, {} val, {} test images of {}x{}x{}, {} classes, seed {} ({})", req.output.out,
               opt.train, opt.val, opt.test, opt.size, opt.size, opt.channels, opt.classes, opt.seed,
               format_duration(timer.elapsed_seconds()));
}

void convert(const ConvertRequest& req, dist::Communicator& comm) {
  req.open.validate();
  Progress timer("convert", 0, "", false);
  auto reader = data::open_dataset(req.in, req.open);
  std::map<std::string, data::SplitShape> shapes;
  for (const auto& split : reader->splits()) shapes[split] = reader->shape(split);
  limit_rows(req.max_rows, shapes);
  const bool carved = req.val_from_train.has_value();
  const std::int64_t val_begin = carved ? carve_val(*req.val_from_train, req.in, shapes) : 0;
  data::write_dataset_file(req.output.out, req.output.overwrite, comm, reader->info(), shapes,
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
  spdlog::info("wrote {}: '{}', {}, {} classes, {} ({})", req.output.out, info.name, data::to_string(info.task),
               info.num_classes, rows, format_duration(timer.elapsed_seconds()));
}

}  // namespace salm::app
