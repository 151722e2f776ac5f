// salm export: the protected release of a noise file, as a MedMNIST-layout .npz (what users
// download and train on) or a folder of PNG images.
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include <spdlog/spdlog.h>
#include <stb_image_write.h>

#include "app.hpp"
#include "salm/core/error.hpp"
#include "salm/data/npz.hpp"
#include "salm/io/h5.hpp"
#include "salm/io/noise_file.hpp"
#include "salm/io/publish.hpp"

namespace salm::cli {
namespace {

namespace fs = std::filesystem;

/// One split of the release: its images (NHWC uint8) and labels (row-major [N] or [N, L]).
struct ReleaseSplit {
  std::string name;
  data::SplitShape shape;
  std::vector<std::uint8_t> images;
  std::vector<std::int64_t> labels;
};

void write_release_npz(const std::string& out, const std::vector<ReleaseSplit>& splits, bool deflate, bool overwrite) {
  std::vector<data::NpyArrayOut> arrays;
  for (const auto& s : splits) {
    std::vector<std::int64_t> ishape{s.shape.rows, s.shape.height, s.shape.width};
    if (s.shape.channels == 3) ishape.push_back(3);
    arrays.push_back({s.name + "_images", "|u1", ishape, s.images.data(), s.images.size()});
    arrays.push_back({s.name + "_labels", "<i8", {s.shape.rows, s.shape.label_elems()}, s.labels.data(),
                      s.labels.size() * sizeof(std::int64_t)});
  }
  data::write_npz(out, arrays, deflate, overwrite);
}

/// OUT/<split>/<class>/<row>.png (single-label) or OUT/<split>/<row>.png + labels.csv, written into
/// OUT.partial and renamed.
void write_release_pngs(const std::string& out, const std::vector<ReleaseSplit>& splits, bool overwrite) {
  fs::path final_dir(out), partial(out + ".partial");
  std::error_code ec;
  if (fs::exists(final_dir) && !overwrite) throw InputError(out, "exists; pass --overwrite to replace it");
  if (fs::exists(partial) && !overwrite)
    throw InputError(partial.string(), "exists (another run writing it, or a crashed one); pass --overwrite");
  fs::remove_all(partial, ec);
  for (const auto& s : splits) {
    const bool multi = s.shape.label_dim > 0;
    const std::int64_t row_bytes = s.shape.image_elems(), le = s.shape.label_elems();
    std::string csv = multi ? "file,labels\n" : "";
    for (std::int64_t i = 0; i < s.shape.rows; ++i) {
      fs::path dir = partial / s.name;
      if (!multi) dir /= std::to_string(s.labels[static_cast<std::size_t>(i)]);
      fs::create_directories(dir, ec);
      if (ec) throw RuntimeError(fmt::format("{}: cannot create: {}", dir.string(), ec.message()));
      std::string file = fmt::format("{:06d}.png", i);
      if (!stbi_write_png((dir / file).c_str(), static_cast<int>(s.shape.width), static_cast<int>(s.shape.height),
                          static_cast<int>(s.shape.channels), s.images.data() + i * row_bytes,
                          static_cast<int>(s.shape.width * s.shape.channels))) {
        fs::remove_all(partial, ec);
        throw RuntimeError(fmt::format("{}: cannot write {}", out, (dir / file).string()));
      }
      if (multi) {
        csv += file + ",";
        for (std::int64_t l = 0; l < le; ++l) csv += fmt::format("{}{}", l ? " " : "", s.labels[static_cast<std::size_t>(i * le + l)]);
        csv += "\n";
      }
    }
    if (multi) std::ofstream(partial / s.name / "labels.csv") << csv;
  }
  if (fs::exists(final_dir)) fs::remove_all(final_dir, ec);
  fs::rename(partial, final_dir, ec);
  if (ec) throw RuntimeError(fmt::format("{}: cannot publish {}: {}", out, partial.string(), ec.message()));
}

}  // namespace

Subcommand export_command() {
  Subcommand s;
  s.name = "export";
  s.summary = "the protected release: train split from the noise file's /protected, other splits from the source";
  s.usage = "salm export --noise NOISE.h5 --out RELEASE.npz|DIR [--format npz|png] [--splits all|train] [--data DATA]";
  s.options = [] {
    po::options_description o("export options");
    add_noise_source_options(o);
    o.add_options()
      ("out,o", po::value<std::string>()->required(), "release: a .npz file (npz) or a directory (png)")
      ("format", po::value<std::string>()->default_value("npz"), "npz (MedMNIST layout, deflated) or png (one file per image)")
      ("splits", po::value<std::string>()->default_value("all"), "all (protected train + the source's val and test) or train")
      ("overwrite", po::bool_switch(), "replace --out if it exists");
    add_dataset_options(o);
    return o;
  };
  s.positional.add("noise", 1);
  s.run = [](Context& ctx) {
    const auto& vm = ctx.vm;
    const auto noise_path = vm["noise"].as<std::string>(), out = vm["out"].as<std::string>();
    const auto format = vm["format"].as<std::string>(), which = vm["splits"].as<std::string>();
    const bool overwrite = vm["overwrite"].as<bool>();
    if (format != "npz" && format != "png") throw UsageError(fmt::format("--format: '{}' (npz, png)", format));
    if (which != "all" && which != "train") throw UsageError(fmt::format("--splits: '{}' (all, train)", which));
    if (format == "npz") io::check_output_path(out, overwrite, ctx.comm);
    auto f = open_noise_file(noise_path);
    auto reader = open_noise_source(f, vm["data"].as<std::string>(), dataset_open_options(vm));
    const std::string protected_split = noise_split(f);
    if (ctx.comm.rank() != 0) return 0;  // one file: rank 0 writes it

    std::vector<ReleaseSplit> splits;
    const auto n = f.dims("/protected")[0];
    auto pairs = read_protected_pairs(f, *reader, dist::Shard{0, n});  // checked against the source
    splits.push_back({"train", pairs.protected_.shape, std::move(pairs.protected_.images), std::move(pairs.protected_.labels)});
    if (which == "all")
      for (const auto& sp : reader->splits()) {
        if (sp == protected_split || sp == "train") continue;
        auto d = reader->read_all(sp);
        splits.push_back({sp, d.shape, std::move(d.images), std::move(d.labels)});
      }
    if (format == "npz") write_release_npz(out, splits, /*deflate=*/true, overwrite);
    else write_release_pngs(out, splits, overwrite);
    std::string what;
    for (const auto& sp : splits) what += fmt::format("{}{} {}", what.empty() ? "" : ", ", sp.name, sp.shape.rows);
    spdlog::info("wrote {} ({}): {} (train: the protected images of {})", out, format, what, noise_path);
    return 0;
  };
  return s;
}

}  // namespace salm::cli
