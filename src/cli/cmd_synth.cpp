// salm synth: writes the built-in sparse medical-like dataset (DESIGN.md section 7).
#include <map>

#include <spdlog/spdlog.h>

#include "app.hpp"
#include "salm/core/progress.hpp"
#include "salm/data/h5_dataset.hpp"
#include "salm/data/synth.hpp"

namespace salm::cli {

Subcommand synth_command() {
  Subcommand s;
  s.name = "synth";
  s.summary = "generate the built-in synthetic sparse microscopy dataset (the embedded default data)";
  s.usage = "[mpirun -n R] salm synth --out FILE.h5 [options]";
  s.options = [] {
    data::SynthOptions d;
    po::options_description o("synth options");
    o.add_options()
      ("out,o", po::value<std::string>()->required(), "output dataset file (.h5)")
      ("classes", po::value<std::int64_t>()->default_value(d.classes), "number of classes")
      ("train", po::value<std::int64_t>()->default_value(d.train), "train images")
      ("val", po::value<std::int64_t>()->default_value(d.val), "validation images")
      ("test", po::value<std::int64_t>()->default_value(d.test), "test images")
      ("size", po::value<std::int64_t>()->default_value(d.size), "image height and width in pixels")
      ("channels", po::value<std::int64_t>()->default_value(d.channels), "1 (grey) or 3 (RGB)")
      ("seed", po::value<std::uint64_t>()->default_value(d.seed), "random seed (same seed, same file)")
      ("overwrite", po::bool_switch(), "replace --out if it exists");
    return o;
  };
  s.run = [](Context& ctx) {
    const auto& vm = ctx.vm;
    data::SynthOptions opt;
    opt.classes = vm["classes"].as<std::int64_t>();
    opt.train = vm["train"].as<std::int64_t>();
    opt.val = vm["val"].as<std::int64_t>();
    opt.test = vm["test"].as<std::int64_t>();
    opt.size = vm["size"].as<std::int64_t>();
    opt.channels = vm["channels"].as<std::int64_t>();
    opt.seed = vm["seed"].as<std::uint64_t>();
    opt.validate();
    std::map<std::string, data::SplitShape> shapes;
    for (const auto& split : data::split_names())
      if (opt.rows(split) > 0) shapes[split] = data::synth_shape(opt, split);
    const auto out = vm["out"].as<std::string>();
    Progress timer("synth", 0, "", false);
    data::write_dataset_file(out, vm["overwrite"].as<bool>(), ctx.comm, data::synth_info(opt), shapes,
                             [&](const std::string& split, std::int64_t begin, std::int64_t count) {
                               return data::synth_rows(opt, split, begin, count);
                             });
    spdlog::info("wrote {}: {} train, {} val, {} test images of {}x{}x{}, {} classes, seed {} ({})", out, opt.train,
                 opt.val, opt.test, opt.size, opt.size, opt.channels, opt.classes, opt.seed,
                 format_duration(timer.elapsed_seconds()));
    return 0;
  };
  return s;
}

}  // namespace salm::cli
