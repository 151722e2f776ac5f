#include "salm/app/figures.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "salm/core/error.hpp"
#include "salm/data/noise_source.hpp"
#include "salm/eval/figures.hpp"
#include "salm/io/noise_file.hpp"
#include "salm/io/publish.hpp"

namespace salm::app {
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

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cell;
  std::istringstream in(s);
  while (std::getline(in, cell, sep)) out.push_back(cell);
  if (!s.empty() && s.back() == sep) out.emplace_back();
  return out;
}

struct Table {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  std::size_t column(const std::string& path, const std::string& name) const {
    for (std::size_t i = 0; i < header.size(); ++i)
      if (header[i] == name) return i;
    throw InputError(path, fmt::format("no column '{}' (columns: {})", name, fmt::join(header, ", ")));
  }
};

/// A plain CSV table: a header line, then rows of as many comma-separated cells (no quoting).
Table read_csv(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw InputError(path, "cannot open CSV file");
  Table t;
  std::string line;
  std::size_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    auto cells = split(line, ',');
    if (t.header.empty()) t.header = cells;
    else if (cells.size() != t.header.size())
      throw InputError(path, fmt::format("line {} has {} cells, the header {}", n, cells.size(), t.header.size()));
    else t.rows.push_back(std::move(cells));
  }
  if (t.header.empty()) throw InputError(path, "empty CSV file");
  return t;
}

double number(const std::string& path, const std::string& cell, const std::string& column) {
  try {
    std::size_t used = 0;
    double v = std::stod(cell, &used);
    if (used == cell.size() && std::isfinite(v)) return v;
  } catch (const std::exception&) {
  }
  throw InputError(path, fmt::format("column '{}': '{}' is not a number", column, cell));
}

}  // namespace

void visualize(const VisualizeRequest& req, dist::Communicator& comm) {
  opt::validate_fields(req);
  const auto& noise_path = req.source.noise;
  const auto& out = req.output.out;
  int scale = req.scale;
  io::check_output_path(out, req.output.overwrite, comm);
  auto noise = io::NoiseFile::open(noise_path);
  const auto& f = noise.h5();
  auto reader = data::open_noise_source(noise, req.source.data, req.open);
  if (comm.rank() != 0) return;  // one picture: rank 0 draws it

  const auto d = f.dims("/delta");  // [n, H, W, C]
  if (d.size() != 4 || d[0] < 1) throw InputError(noise_path, "/delta is not a non-empty [rows, H, W, C] array");
  const std::int64_t h = d[1], w = d[2], c = d[3];
  const double eps = f.attr_double("/", "epsilon").value_or(8.0) / 255.0;
  auto labels = f.read_all<std::int64_t>("/labels");
  const std::int64_t label_elems = std::max<std::int64_t>(1, static_cast<std::int64_t>(labels.size()) / d[0]);
  if (scale == 0) scale = static_cast<int>(std::clamp<std::int64_t>((112 + h - 1) / h, 1, 8));

  std::vector<eval::SampleRow> grid;
  for (auto r : pick_rows(labels, label_elems, req.count)) {
    auto pair = data::read_protected_pairs(noise, *reader, dist::Shard{r, r + 1});
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
}

void plot(const PlotRequest& req, dist::Communicator& comm) {
  opt::validate_fields(req);
  const auto& path = req.csv;
  const auto& out = req.output.out;
  io::check_output_path(out, req.output.overwrite, comm);
  if (comm.rank() != 0) return;
  auto table = read_csv(path);
  const auto& xname = req.x;
  const auto& gname = req.group;
  const auto xc = table.column(path, xname);
  const auto gc = gname.empty() ? std::size_t{0} : table.column(path, gname);
  std::vector<eval::Curve> curves;
  std::map<std::string, std::size_t> index;  // curve label -> position, in order of appearance
  for (const auto& yname : split(req.y, ',')) {
    const auto yc = table.column(path, yname);
    for (const auto& row : table.rows) {
      if (row[yc].empty()) continue;  // a missing value: no point
      std::string label = gname.empty() ? yname : row[gc] + " " + yname;
      auto [it, fresh] = index.emplace(label, curves.size());
      if (fresh) curves.push_back({label, {}, {}});
      auto& c = curves[it->second];
      c.x.push_back(number(path, row[xc], xname));
      c.y.push_back(number(path, row[yc], yname));
    }
  }
  if (curves.empty()) throw InputError(path, "no rows to plot");
  eval::ChartStyle style;
  style.x_label = req.x_label.empty() ? xname : req.x_label;
  style.x_log2 = req.x_log2;
  style.y_max = req.y_max;
  style.reference = req.reference;
  style.reference_label = req.reference_label;
  if (style.x_log2)
    for (const auto& c : curves)
      for (double x : c.x)
        if (x < 1) throw InputError(path, fmt::format("column '{}': {} < 1 on a log2 axis", xname, x));
  auto title = req.title.empty() ? path : req.title;
  io::publish_text(out, eval::line_chart_png(curves, style, title));
  spdlog::info("wrote {}: {} curve(s) from {}", out, curves.size(), path);
}

}  // namespace salm::app
