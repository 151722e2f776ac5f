// salm restore: the clean training images back from a protected release and its noise file (for
// authorised partners). protected = round(255 (x + delta)) with x + delta inside [0, 1], so
// round(protected - 255 delta) is exactly the original uint8 image.
#include <algorithm>
#include <cmath>
#include <map>

#include <spdlog/spdlog.h>

#include "app.hpp"
#include "salm/core/error.hpp"
#include "salm/data/h5_dataset.hpp"
#include "salm/io/h5.hpp"
#include "salm/io/noise_file.hpp"
#include "salm/io/publish.hpp"

namespace salm::cli {

Subcommand restore_command() {
  Subcommand s;
  s.name = "restore";
  s.summary = "the clean dataset back from a protected release (.npz or .h5) and its noise file";
  s.usage = "[mpirun -n R] salm restore --protected RELEASE --noise NOISE.h5 --out CLEAN.h5";
  s.options = [] {
    po::options_description o("restore options");
    o.add_options()
      ("protected", po::value<std::string>()->required(), "the release: train split = the noise file's /protected rows")
      ("noise", po::value<std::string>()->required(), "noise file")
      ("out,o", po::value<std::string>()->required(), "restored dataset (.h5)")
      ("overwrite", po::bool_switch(), "replace --out if it exists");
    add_dataset_options(o);
    return o;
  };
  s.run = [](Context& ctx) {
    const auto& vm = ctx.vm;
    const auto release = vm["protected"].as<std::string>(), noise_path = vm["noise"].as<std::string>();
    const auto out = vm["out"].as<std::string>();
    io::check_output_path(out, vm["overwrite"].as<bool>(), ctx.comm);
    auto f = open_noise_file(noise_path);
    auto reader = data::open_dataset(release, dataset_open_options(vm));
    reader->require_splits({"train"});
    const auto d = f.dims("/delta");  // [n, H, W, C]
    const auto& train = reader->shape("train");
    if (train.rows != d[0] || train.height != d[1] || train.width != d[2] || train.channels != d[3])
      throw InputError(release, fmt::format("train split of {} rows of {}x{}x{} does not match {} ({} rows of {}x{}x{})",
                                            train.rows, train.height, train.width, train.channels, noise_path, d[0], d[1],
                                            d[2], d[3]));
    std::map<std::string, data::SplitShape> shapes;
    for (const auto& sp : reader->splits()) shapes[sp] = reader->shape(sp);
    auto info = reader->info();
    info.source = fmt::format("salm restore of {} with {}", release, noise_path);
    data::write_dataset_file(out, vm["overwrite"].as<bool>(), ctx.comm, info, shapes,
                             [&](const std::string& split, std::int64_t begin, std::int64_t count) {
                               auto rows = reader->read(split, begin, count);
                               if (split != "train") return rows;
                               auto labels = f.read_rows<std::int64_t>("/labels", begin, count);
                               if (labels != rows.labels)
                                 throw InputError(release, fmt::format("train labels of rows [{}, {}) differ from {}'s: "
                                                                       "not the release of this noise file",
                                                                       begin, begin + count, noise_path));
                               auto delta = f.read_rows<float>("/delta", begin, count);
                               for (std::size_t i = 0; i < delta.size(); ++i) {
                                 double x = std::nearbyint(static_cast<double>(rows.images[i]) - 255.0 * delta[i]);
                                 rows.images[i] = static_cast<std::uint8_t>(std::clamp(x, 0.0, 255.0));
                               }
                               return rows;
                             });
    if (ctx.comm.rank() == 0)
      spdlog::info("wrote {}: {} train rows restored from {} with {}", out, train.rows, release, noise_path);
    return 0;
  };
  return s;
}

}  // namespace salm::cli
