// salm plot: a line chart (PNG) of columns of a CSV table, e.g. the scaling study's efficiency
// against ranks (tools/scaling-study), with the same figure code as `evaluate --plot`.
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "app.hpp"
#include "salm/core/error.hpp"
#include "salm/eval/figures.hpp"
#include "salm/io/publish.hpp"

namespace salm::cli {
namespace {

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

Subcommand plot_command() {
  Subcommand s;
  s.name = "plot";
  s.summary = "a line chart (PNG) of columns of a CSV table";
  s.usage = "salm plot TABLE.csv --x COLUMN --y COLUMN[,COLUMN...] [--group COLUMN] --out FIG.png";
  s.options = [] {
    po::options_description o("plot options");
    o.add_options()
      ("csv", po::value<std::string>()->required(), "the table: a header line, comma-separated cells")
      ("x", po::value<std::string>()->required(), "the column on the x axis")
      ("y", po::value<std::string>()->required(), "columns on the y axis (comma-separated), fractions drawn as percent")
      ("group", po::value<std::string>()->default_value(""), "one curve per value of this column (and per --y column)")
      ("out,o", po::value<std::string>()->required(), "output PNG")
      ("title", po::value<std::string>()->default_value(""), "title (default: the CSV file name)")
      ("x-label", po::value<std::string>()->default_value(""), "x axis label (default: the --x column)")
      ("x-log2", po::bool_switch(), "x axis in powers of two from 1 (ranks, nodes)")
      ("y-max", po::value<double>()->default_value(1.0), "top of the y axis (1 = 100%)")
      ("reference", po::value<double>()->default_value(-1), "a dashed line at this y (e.g. 1 = ideal scaling; < 0: none)")
      ("reference-label", po::value<std::string>()->default_value("IDEAL"), "its label")
      ("overwrite", po::bool_switch(), "replace --out if it exists");
    return o;
  };
  s.positional.add("csv", 1);
  s.run = [](Context& ctx) {
    const auto& vm = ctx.vm;
    const auto path = vm["csv"].as<std::string>(), out = vm["out"].as<std::string>();
    if (vm["y-max"].as<double>() <= 0) throw UsageError("--y-max must be > 0");
    io::check_output_path(out, vm["overwrite"].as<bool>(), ctx.comm);
    if (ctx.comm.rank() != 0) return 0;
    auto table = read_csv(path);
    const auto xname = vm["x"].as<std::string>(), gname = vm["group"].as<std::string>();
    const auto xc = table.column(path, xname);
    const auto gc = gname.empty() ? std::size_t{0} : table.column(path, gname);
    std::vector<eval::Curve> curves;
    std::map<std::string, std::size_t> index;  // curve label -> position, in order of appearance
    for (const auto& yname : split(vm["y"].as<std::string>(), ',')) {
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
    style.x_label = vm["x-label"].as<std::string>().empty() ? xname : vm["x-label"].as<std::string>();
    style.x_log2 = vm["x-log2"].as<bool>();
    style.y_max = vm["y-max"].as<double>();
    style.reference = vm["reference"].as<double>();
    style.reference_label = vm["reference-label"].as<std::string>();
    if (style.x_log2)
      for (const auto& c : curves)
        for (double x : c.x)
          if (x < 1) throw InputError(path, fmt::format("column '{}': {} < 1 on a log2 axis", xname, x));
    auto title = vm["title"].as<std::string>().empty() ? path : vm["title"].as<std::string>();
    io::publish_text(out, eval::line_chart_png(curves, style, title));
    spdlog::info("wrote {}: {} curve(s) from {}", out, curves.size(), path);
    return 0;
  };
  return s;
}

}  // namespace salm::cli
