// salm visualize: a PNG grid of samples of a noise file: original, noise (amplified), mask,
// protected (the paper's Figure 7).
#include <algorithm>
#include <cmath>
#include <set>

#include <spdlog/spdlog.h>

#include "app.hpp"
#include "salm/core/error.hpp"
#include "salm/eval/figures.hpp"
#include "salm/io/h5.hpp"
#include "salm/io/noise_file.hpp"
#include "salm/io/publish.hpp"

namespace salm::cli {
namespace {

/// The rows to show: the first row of each class in turn (so every class appears when count
/// allows), then the next rows in file order.
std::vector<std::int64_t> pick_rows(const std::vector<std::int64_t>& labels, std::int64_t label_elems, std::int64_t count) {
  const std::int64_t n = static_cast<std::int64_t>(labels.size()) / label_elems;
  std::vector<std::int64_t> rows;
  std::set<std::int64_t> seen;
  for (std::int64_t i = 0; i < n && static_cast<std::int64_t>(rows.size()) < count; ++i)
    if (label_elems > 1 || seen.insert(labels[static_cast<std::size_t>(i)]).second) rows.push_back(i);
  for (std::int64_t i = 0; i < n && static_cast<std::int64_t>(rows.size()) < count; ++i)
    if (std::find(rows.begin(), rows.end(), i) == rows.end()) rows.push_back(i);
  std::sort(rows.begin(), rows.end());
  return rows;
}

}  // namespace

Subcommand visualize_command() {
  Subcommand s;
  s.name = "visualize";
  s.summary = "a PNG grid of protected samples: original, noise (amplified), mask, protected";
  s.usage = "salm visualize --noise NOISE.h5 --out FIG.png [--data DATA] [--count 8] [--scale 0]";
  s.options = [] {
    po::options_description o("visualize options");
    add_noise_source_options(o);
    o.add_options()
      ("out,o", po::value<std::string>()->required(), "output PNG")
      ("count", po::value<std::int64_t>()->default_value(8), "samples (rows of the grid): one per class first")
      ("scale", po::value<int>()->default_value(0), "pixels per image pixel (0: enough for about 112 px)")
      ("overwrite", po::bool_switch(), "replace --out if it exists");
    add_dataset_options(o);
    return o;
  };
  s.positional.add("noise", 1);
  s.run = [](Context& ctx) {
    const auto& vm = ctx.vm;
    const auto noise_path = vm["noise"].as<std::string>(), out = vm["out"].as<std::string>();
    const auto count = vm["count"].as<std::int64_t>();
    int scale = vm["scale"].as<int>();
    if (count < 1 || count > 256) throw UsageError("--count must be in [1, 256]");
    if (scale < 0 || scale > 32) throw UsageError("--scale must be in [0, 32]");
    io::check_output_path(out, vm["overwrite"].as<bool>(), ctx.comm);
    auto f = open_noise_file(noise_path);
    auto reader = open_noise_source(f, vm["data"].as<std::string>(), dataset_open_options(vm));
    if (ctx.comm.rank() != 0) return 0;  // one picture: rank 0 draws it

    const auto d = f.dims("/delta");  // [n, H, W, C]
    if (d.size() != 4 || d[0] < 1) throw InputError(noise_path, "/delta is not a non-empty [rows, H, W, C] array");
    const std::int64_t h = d[1], w = d[2], c = d[3];
    const double eps = f.attr_double("/", "epsilon").value_or(8.0) / 255.0;
    auto labels = f.read_all<std::int64_t>("/labels");
    const std::int64_t label_elems = std::max<std::int64_t>(1, static_cast<std::int64_t>(labels.size()) / d[0]);
    if (scale == 0) scale = static_cast<int>(std::clamp<std::int64_t>((112 + h - 1) / h, 1, 8));

    std::vector<eval::SampleRow> grid;
    for (auto r : pick_rows(labels, label_elems, count)) {
      auto pair = read_protected_pairs(f, *reader, dist::Shard{r, r + 1});
      eval::SampleRow row;
      row.original = pair.clean.images;
      row.protected_image = pair.protected_.images;
      auto delta = f.read_rows<float>("/delta", r, 1);
      row.noise.resize(delta.size());
      for (std::size_t i = 0; i < delta.size(); ++i)  // -eps..eps -> 0..255, zero noise mid-grey
        row.noise[i] = static_cast<std::uint8_t>(std::lround(std::clamp(127.5 + 127.5 * delta[i] / eps, 0.0, 255.0)));
      row.mask = f.read_rows<std::uint8_t>("/mask", r, 1);
      for (auto& m : row.mask) m = m ? 255 : 0;
      auto idx = f.read_rows<std::int64_t>("/index", r, 1)[0];
      row.label = label_elems == 1 ? fmt::format("ROW {} CLASS {}", idx, labels[static_cast<std::size_t>(r)])
                                   : fmt::format("ROW {}", idx);
      grid.push_back(std::move(row));
    }
    auto title = fmt::format("{} {} K={}% EPS={}/255", f.attr_string("/", "dataset_name").value_or(""),
                             f.attr_string("/", "method").value_or("?"), f.attr_double("/", "k").value_or(0),
                             f.attr_double("/", "epsilon").value_or(0));
    io::publish_text(out, eval::sample_grid_png(grid, static_cast<int>(h), static_cast<int>(w), static_cast<int>(c), scale, title));
    spdlog::info("wrote {}: {} samples of {} ({}x{} px each, x{})", out, grid.size(), noise_path, h, w, scale);
    return 0;
  };
  return s;
}

}  // namespace salm::cli
