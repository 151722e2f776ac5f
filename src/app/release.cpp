#include "salm/app/release.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>

#include <spdlog/spdlog.h>
#include <stb_image_write.h>

#include "salm/core/error.hpp"
#include "salm/data/h5_dataset.hpp"
#include "salm/data/noise_source.hpp"
#include "salm/data/npz.hpp"
#include "salm/io/noise_file.hpp"
#include "salm/io/publish.hpp"

namespace salm::opt {
const std::vector<std::pair<app::ReleaseFormat, const char*>>& EnumNames<app::ReleaseFormat>::values() {
  static const std::vector<std::pair<app::ReleaseFormat, const char*>> v{{app::ReleaseFormat::npz, "npz"},
                                                                         {app::ReleaseFormat::png, "png"}};
  return v;
}
const std::vector<std::pair<app::ReleaseSplits, const char*>>& EnumNames<app::ReleaseSplits>::values() {
  static const std::vector<std::pair<app::ReleaseSplits, const char*>> v{{app::ReleaseSplits::train, "train"},
                                                                         {app::ReleaseSplits::all, "all"}};
  return v;
}
}  // namespace salm::opt

namespace salm::app {
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

void export_release(const ExportRequest& req, dist::Communicator& comm) {
  const auto& noise_path = req.source.noise;
  const auto& out = req.output.out;
  const bool overwrite = req.output.overwrite;
  req.open.validate();
  if (req.format == ReleaseFormat::npz) io::check_output_path(out, overwrite, comm);
  auto noise = io::NoiseFile::open(noise_path);
  // Only what the owner's own val split judged protected leaves by default (protect --target-val-acc).
  const std::string check = noise.h5().attr_string("/", "protection_check").value_or("not run");
  if (check != "passed") {
    const std::string why = check == "failed"
                                ? fmt::format("its protection check failed (a fresh victim reached {:.2f}% on the clean val "
                                              "split, above --target-val-acc)",
                                              100 * noise.h5().attr_double("/", "final_val_check_accuracy").value_or(1.0))
                                : "its protection was never checked (protect it with --target-val-acc)";
    if (!req.allow_unchecked) throw InputError(noise_path, why + "; pass --allow-unchecked to release it anyway");
    if (comm.rank() == 0) spdlog::warn("{}: {}; releasing it anyway (--allow-unchecked)", noise_path, why);
  }
  auto reader = data::open_noise_source(noise, req.source.data, req.open);
  const std::string protected_split = noise.split();
  if (comm.rank() != 0) return;  // one file: rank 0 writes it

  std::vector<ReleaseSplit> splits;
  auto pairs = data::read_protected_pairs(noise, *reader, dist::Shard{0, noise.rows()});  // checked against the source
  splits.push_back({"train", pairs.protected_.shape, std::move(pairs.protected_.images), std::move(pairs.protected_.labels)});
  if (req.splits == ReleaseSplits::all) {
    std::string clean;
    for (const auto& sp : reader->splits()) {
      if (sp == protected_split || sp == "train") continue;
      auto d = reader->read_all(sp);
      clean += fmt::format("{}{} {}", clean.empty() ? "" : ", ", sp, d.shape.rows);
      splits.push_back({sp, d.shape, std::move(d.images), std::move(d.labels)});
    }
    if (!clean.empty())
      spdlog::warn("{} also ships clean images of {} ({}): anyone may train on those; --splits train releases only "
                   "protected images",
                   out, reader->path(), clean);
  }
  if (req.format == ReleaseFormat::npz) write_release_npz(out, splits, /*deflate=*/true, overwrite);
  else write_release_pngs(out, splits, overwrite);
  std::string what;
  for (const auto& sp : splits) what += fmt::format("{}{} {}", what.empty() ? "" : ", ", sp.name, sp.shape.rows);
  spdlog::info("wrote {} ({}): {} (train: the protected images of {})", out, opt::to_string(req.format), what, noise_path);
}

void restore(const RestoreRequest& req, dist::Communicator& comm) {
  const auto& release = req.release;
  const auto& noise_path = req.noise;
  const auto& out = req.output.out;
  req.open.validate();
  io::check_output_path(out, req.output.overwrite, comm);
  auto noise = io::NoiseFile::open(noise_path);
  const auto& f = noise.h5();
  auto reader = data::open_dataset(release, req.open);
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
  data::write_dataset_file(out, req.output.overwrite, comm, info, shapes,
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
                           },
                           2048, io::FileAccess::owner);  // clean data: as private as the key
  if (comm.rank() == 0) spdlog::info("wrote {}: {} train rows restored from {} with {}", out, train.rows, release, noise_path);
}

}  // namespace salm::app
