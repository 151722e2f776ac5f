// The subcommands other than protect: each parses its options (its request's option table) and
// calls the job in salm::app. No product logic here.
#include <iostream>

#include "app.hpp"
#include "option_fields.hpp"
#include "salm/app/datasets.hpp"
#include "salm/app/evaluate.hpp"
#include "salm/app/figures.hpp"
#include "salm/app/inspect.hpp"
#include "salm/app/release.hpp"

namespace salm::cli {
namespace {

/// A subcommand whose options are the table of `Request` and whose job is `job(request, comm)`.
template <class Request, class Job>
Subcommand command(std::string name, std::string summary, std::string usage, std::vector<const char*> positional,
                   Job job) {
  Subcommand s;
  s.name = std::move(name);
  s.summary = std::move(summary);
  s.usage = std::move(usage);
  s.options = [title = s.name + " options"] {
    po::options_description o(title);
    add_fields<Request>(o);
    return o;
  };
  for (const char* p : positional) s.positional.add(p, 1);
  s.run = [job](Context& ctx) {
    Request r;
    read_fields(ctx.vm, r);
    job(r, ctx);
    return 0;
  };
  return s;
}

/// evaluate's options: the tables of the files, the victim, the audit and the dataset.
struct EvaluateOptions {
  app::EvaluateRequest r;
  template <class Self, class V>
  static void fields(Self& o, V&& v) {
    app::EvaluateFiles::fields(o.r.files, v);
    VictimOptions::fields(o.r.victim, v);
    app::AuditSettings::fields(o.r.audit, v);
    data::OpenOptions::fields(o.r.open, v);
  }
};

}  // namespace

Subcommand synth_command() {
  return command<app::SynthRequest>(
      "synth", "generate the built-in synthetic sparse microscopy dataset (the embedded default data)",
      "[mpirun -n R] salm synth --out FILE.h5 [options]", {},
      [](const app::SynthRequest& r, Context& ctx) { app::synth(r, ctx.comm); });
}

Subcommand convert_command() {
  return command<app::ConvertRequest>(
      "convert", "convert a MedMNIST .npz or an IDX directory (Fashion-MNIST) into a salm dataset .h5",
      "[mpirun -n R] salm convert --in FILE.npz|IDX_DIR --out FILE.h5 [options]", {"in", "out"},
      [](const app::ConvertRequest& r, Context& ctx) { app::convert(r, ctx.comm); });
}

Subcommand evaluate_command() {
  auto s = command<EvaluateOptions>(
      "evaluate",
      "train a fresh victim on clean or protected data and report its clean test accuracy; the robustness audit",
      "[mpirun -n R] salm evaluate --data DATA [--noise NOISE.h5] [options] | --data DATA --noise NOISE.h5 --suite FILE.json",
      {}, [](EvaluateOptions r, Context& ctx) {
        r.r.command_line = ctx.command_line;
        r.r.device = ctx.device;
        app::evaluate(r.r, ctx.comm);
      });
  s.compute = true;
  return s;
}

Subcommand inspect_command() {
  return command<app::InspectRequest>(
      "inspect",
      "summarise a dataset (.npz or .h5: splits, shapes, classes, background) or a noise file (options, max |delta|, "
      "mask density, accuracy; --similarity: SSIM, PSNR against the clean images)",
      "[mpirun -n R] salm inspect FILE [--json] | NOISE.h5 [--similarity [--data DATA]] [--shortcut] [--json]", {"file"},
      [](const app::InspectRequest& r, Context& ctx) { app::inspect(r, ctx.comm, std::cout); });
}

Subcommand visualize_command() {
  return command<app::VisualizeRequest>(
      "visualize", "a PNG grid of protected samples: original, noise (amplified), mask, protected",
      "salm visualize --noise NOISE.h5 --out FIG.png [--data DATA] [--count 8] [--scale 0]", {"noise"},
      [](const app::VisualizeRequest& r, Context& ctx) { app::visualize(r, ctx.comm); });
}

Subcommand plot_command() {
  return command<app::PlotRequest>(
      "plot", "a line chart (PNG) of columns of a CSV table",
      "salm plot TABLE.csv --x COLUMN --y COLUMN[,COLUMN...] [--group COLUMN] --out FIG.png", {"csv"},
      [](const app::PlotRequest& r, Context& ctx) { app::plot(r, ctx.comm); });
}

Subcommand export_command() {
  return command<app::ExportRequest>(
      "export", "the protected release: train split from the noise file's /protected, other splits from the source",
      "salm export --noise NOISE.h5 --out RELEASE.npz|DIR [--format npz|png] [--splits all|train] [--data DATA]",
      {"noise"}, [](const app::ExportRequest& r, Context& ctx) { app::export_release(r, ctx.comm); });
}

Subcommand restore_command() {
  return command<app::RestoreRequest>(
      "restore", "the clean dataset back from a protected release (.npz or .h5) and its noise file",
      "[mpirun -n R] salm restore --protected RELEASE --noise NOISE.h5 --out CLEAN.h5", {},
      [](const app::RestoreRequest& r, Context& ctx) { app::restore(r, ctx.comm); });
}

}  // namespace salm::cli
