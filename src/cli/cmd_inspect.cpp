// salm inspect: a summary of a dataset (splits, shapes, classes, per-class counts, background).
#include <iostream>

#include <fmt/ranges.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "app.hpp"
#include "salm/data/reader.hpp"
#include "salm/dist/shard.hpp"

namespace salm::cli {
namespace {

struct SplitSummary {
  std::string name;
  data::SplitShape shape;
  std::vector<std::int64_t> class_counts;  // per class (single-label) or positives per label
  double background = 0;                   // mean fraction of background pixels
};

/// Reads this rank's rows of `split` in chunks and reduces the counts over all ranks.
SplitSummary summarise(data::DatasetReader& reader, const std::string& split, dist::Communicator& comm) {
  SplitSummary s;
  s.name = split;
  s.shape = reader.shape(split);
  const auto& info = reader.info();
  s.class_counts.assign(static_cast<std::size_t>(info.num_classes), 0);
  auto mine = dist::shard_of(s.shape.rows, comm.rank(), comm.size());
  const std::int64_t chunk = 4096;
  double bg_sum = 0;
  for (std::int64_t b = mine.begin; b < mine.end; b += chunk) {
    auto rows = reader.read(split, b, std::min(chunk, mine.end - b));
    for (std::int64_t i = 0; i < rows.rows(); ++i)
      bg_sum += data::background_fraction(rows.image(i), s.shape.height, s.shape.width, s.shape.channels);
    if (s.shape.label_dim > 0) {
      for (std::size_t j = 0; j < rows.labels.size(); ++j)
        s.class_counts[j % static_cast<std::size_t>(s.shape.label_dim)] += rows.labels[j];
    } else {
      for (auto l : rows.labels) s.class_counts[static_cast<std::size_t>(l)] += 1;
    }
  }
  comm.allreduce(s.class_counts.data(), s.class_counts.size());
  bg_sum = comm.allreduce_scalar(bg_sum);
  s.background = s.shape.rows > 0 ? bg_sum / static_cast<double>(s.shape.rows) : 0.0;
  return s;
}

}  // namespace

Subcommand inspect_command() {
  Subcommand s;
  s.name = "inspect";
  s.summary = "summarise a dataset (.npz or .h5): splits, shapes, classes, per-class counts, background";
  s.usage = "[mpirun -n R] salm inspect FILE [--json]";
  s.options = [] {
    po::options_description o("inspect options");
    o.add_options()
      ("file", po::value<std::string>()->required(), "the file to summarise (also the first positional argument)")
      ("json", po::bool_switch(), "print JSON instead of text");
    return o;
  };
  s.positional.add("file", 1);
  s.run = [](Context& ctx) {
    const auto path = ctx.vm["file"].as<std::string>();
    auto reader = data::open_dataset(path);
    const auto& info = reader->info();
    std::vector<SplitSummary> splits;
    for (const auto& split : reader->splits()) splits.push_back(summarise(*reader, split, ctx.comm));
    if (ctx.comm.rank() != 0) return 0;
    if (ctx.vm["json"].as<bool>()) {
      nlohmann::json j;
      j["file"] = path;
      j["kind"] = "dataset";
      j["name"] = info.name;
      j["task"] = data::to_string(info.task);
      j["num_classes"] = info.num_classes;
      j["source"] = info.source;
      for (const auto& sp : splits) {
        auto& o = j["splits"][sp.name];
        o["rows"] = sp.shape.rows;
        o["height"] = sp.shape.height;
        o["width"] = sp.shape.width;
        o["channels"] = sp.shape.channels;
        o["labels_per_image"] = sp.shape.label_elems();
        o[sp.shape.label_dim > 0 ? "positives_per_label" : "class_counts"] = sp.class_counts;
        o["background_fraction"] = sp.background;
      }
      std::cout << j.dump(2) << std::endl;
      return 0;
    }
    std::cout << fmt::format("{}: dataset '{}'\n  task {}, {} {}\n  source: {}\n", path, info.name,
                             data::to_string(info.task), info.num_classes,
                             info.task == data::Task::multi_label ? "labels per image" : "classes", info.source);
    std::cout << fmt::format("  {:<6} {:>8}  {:<10} {:>10}  {}\n", "split", "rows", "image", "background",
                             info.task == data::Task::multi_label ? "positives per label" : "images per class");
    for (const auto& sp : splits)
      std::cout << fmt::format("  {:<6} {:>8}  {:<10} {:>9.1f}%  {}\n", sp.name, sp.shape.rows,
                               fmt::format("{}x{}x{}", sp.shape.height, sp.shape.width, sp.shape.channels),
                               100.0 * sp.background, fmt::join(sp.class_counts, " "));
    return 0;
  };
  return s;
}

}  // namespace salm::cli
