/// `salm visualize` (a grid of protected samples) and `salm plot` (a line chart of a CSV table) as
/// library code; the drawing itself is eval/figures.
#pragma once

#include <cstdint>
#include <string>

#include "salm/app/datasets.hpp"
#include "salm/core/option_table.hpp"
#include "salm/data/reader.hpp"
#include "salm/dist/communicator.hpp"

namespace salm::app {

/// A noise file and the dataset it protects (default: its `source` attribute).
struct NoiseSource {
  std::string noise, data;

  template <class Self, class V>
  static void fields(Self& o, V&& v) {
    v(opt::field("noise", o.noise, "noise file").required());
    v(opt::field("data", o.data, "the dataset it protects (default: the noise file's source)").alias('d'));
  }
};

struct VisualizeRequest {
  NoiseSource source;
  OutputFile output;
  std::int64_t count = 8;
  int scale = 0;
  data::OpenOptions open;

  template <class Self, class V>
  static void fields(Self& o, V&& v) {
    using opt::field;
    NoiseSource::fields(o.source, v);
    OutputFile::fields(o.output, v, "output PNG");
    v(field("count", o.count, "samples (rows of the grid): one per class first").in(1, 256));
    v(field("scale", o.scale, "pixels per image pixel (0: enough for about 112 px)").in(0, 32));
    data::OpenOptions::fields(o.open, v);
  }
};

/// Draws original | noise (amplified) | mask | protected for `count` rows (rank 0 writes the PNG).
void visualize(const VisualizeRequest& request, dist::Communicator& comm);

struct PlotRequest {
  std::string csv, x, y, group;
  OutputFile output;
  std::string title, x_label;
  bool x_log2 = false;
  double y_max = 1.0;
  double reference = -1;
  std::string reference_label = "IDEAL";

  template <class Self, class V>
  static void fields(Self& o, V&& v) {
    using opt::field;
    v(field("csv", o.csv, "the table: a header line, comma-separated cells").required());
    v(field("x", o.x, "the column on the x axis").required());
    v(field("y", o.y, "columns on the y axis (comma-separated), fractions drawn as percent").required());
    v(field("group", o.group, "one curve per value of this column (and per --y column)"));
    OutputFile::fields(o.output, v, "output PNG");
    v(field("title", o.title, "title (default: the CSV file name)"));
    v(field("x-label", o.x_label, "x axis label (default: the --x column)"));
    v(field("x-log2", o.x_log2, "x axis in powers of two from 1 (ranks, nodes)"));
    v(field("y-max", o.y_max, "top of the y axis (1 = 100%)").above(0));
    v(field("reference", o.reference, "a dashed line at this y (e.g. 1 = ideal scaling; < 0: none)"));
    v(field("reference-label", o.reference_label, "its label"));
  }
};

/// Draws the chart (rank 0 writes the PNG).
void plot(const PlotRequest& request, dist::Communicator& comm);

}  // namespace salm::app
