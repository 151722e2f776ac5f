#include "salm/app/inspect.hpp"

#include <sys/stat.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <ostream>

#include <fmt/ranges.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "salm/core/error.hpp"
#include "salm/data/noise_source.hpp"
#include "salm/data/reader.hpp"
#include "salm/dist/shard.hpp"
#include "salm/eval/audit.hpp"
#include "salm/eval/shortcut.hpp"
#include "salm/eval/similarity.hpp"
#include "salm/io/h5.hpp"
#include "salm/io/noise_file.hpp"

namespace salm::app {
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

/// SSIM, PSNR, L0 and L-inf of a noise file's protected images against the clean rows they were
/// made from: those of `data_path`, or of the file's `source` attribute when it is empty.
eval::Similarity noise_similarity(const io::NoiseFile& f, const std::string& data_path, dist::Communicator& comm) {
  auto reader = data::open_noise_source(f, data_path);
  auto pairs = data::read_protected_pairs(f, *reader, dist::shard_of(f.rows(), comm.rank(), comm.size()));
  return eval::similarity(pairs.clean, pairs.protected_, comm);
}

/// A noise file: method and options, max |delta|, mask density, per-class counts, accuracy; with
/// `similarity`, the similarity of its protected images to the clean ones.
/// The linear probe of `salm inspect --shortcut` on up to 20,000 rows, evenly spaced (rank 0).
eval::ShortcutResult noise_shortcut(const io::H5File& f, std::int64_t n, std::int64_t classes) {
  if (f.dims("/labels").size() != 1) throw UsageError("--shortcut: single-label noise files only");
  eval::ShortcutOptions opt;
  const std::int64_t stride = (n + opt.max_rows - 1) / opt.max_rows;
  std::vector<float> delta;
  std::vector<std::int64_t> labels;
  const std::int64_t chunk = 4096;
  for (std::int64_t b = 0; b < n; b += chunk) {
    auto len = std::min(chunk, n - b);
    auto d = f.read_rows<float>("/delta", b, len);
    auto l = f.read_rows<std::int64_t>("/labels", b, len);
    const std::size_t per = d.size() / static_cast<std::size_t>(len);
    for (std::int64_t i = 0; i < len; ++i)
      if ((b + i) % stride == 0) {
        delta.insert(delta.end(), d.begin() + static_cast<std::ptrdiff_t>(per * static_cast<std::size_t>(i)),
                     d.begin() + static_cast<std::ptrdiff_t>(per * static_cast<std::size_t>(i + 1)));
        labels.push_back(l[static_cast<std::size_t>(i)]);
      }
  }
  if (labels.size() < 8) throw InputError(f.path(), "--shortcut needs at least 8 rows");
  return eval::linear_shortcut(delta, labels, std::max<std::int64_t>(classes, 2), opt);
}

void inspect_noise(const std::string& path, bool json, bool similarity, bool shortcut, const std::string& data_path,
                   dist::Communicator& comm, std::ostream& os) {
  auto noise = io::NoiseFile::open(path);
  const auto& f = noise.h5();
  // The key of the release: with the source or the release, its /delta gives the clean images back.
  struct stat st {};
  const bool shared = ::stat(path.c_str(), &st) == 0 && (st.st_mode & 077) != 0;
  if (shared && comm.rank() == 0)
    spdlog::warn("{} is readable by its group or others (mode {:04o}): with the source or the release it gives the clean "
                 "images back; keep it private (chmod 600)",
                 path, st.st_mode & 07777);
  std::optional<eval::Similarity> sim;
  if (similarity) sim = noise_similarity(noise, data_path, comm);
  auto d = f.dims("/delta");
  if (d.size() != 4) throw InputError(path, "/delta is not [N,H,W,C]");
  const std::int64_t n = d[0], h = d[1], w = d[2], c = d[3];
  auto mine = dist::shard_of(n, comm.rank(), comm.size());
  double stats[3] = {0, 0, 0};  // max |delta|, mask pixels, pixels with delta != 0
  const std::int64_t chunk = 4096;
  for (std::int64_t b = mine.begin; b < mine.end; b += chunk) {
    auto len = std::min(chunk, mine.end - b);
    auto delta = f.read_rows<float>("/delta", b, len);
    auto mask = f.read_rows<std::uint8_t>("/mask", b, len);
    for (std::size_t i = 0; i < mask.size(); ++i) {
      stats[1] += mask[i] != 0;
      bool nz = false;
      for (std::int64_t k = 0; k < c; ++k) {
        float v = std::abs(delta[i * static_cast<std::size_t>(c) + static_cast<std::size_t>(k)]);
        stats[0] = std::max(stats[0], static_cast<double>(v));
        nz = nz || v != 0;
      }
      stats[2] += nz;
    }
  }
  double mx = stats[0];
  comm.allreduce(&mx, 1, dist::ReduceOp::max);
  comm.allreduce(stats + 1, 2);
  // Each rank counts the labels of its own rows; the counts are summed.
  auto labels = f.read_rows<std::int64_t>("/labels", mine.begin, mine.size());
  auto num_classes = f.attr_int("/", "num_classes").value_or(0);
  std::vector<std::int64_t> counts(static_cast<std::size_t>(std::max<std::int64_t>(num_classes, 1)), 0);
  auto ld = f.dims("/labels");
  if (ld.size() == 2) {
    for (std::size_t j = 0; j < labels.size(); ++j) counts[j % counts.size()] += labels[j];
  } else {
    for (auto l : labels)
      if (l >= 0 && l < static_cast<std::int64_t>(counts.size())) counts[static_cast<std::size_t>(l)] += 1;
  }
  comm.allreduce(counts.data(), counts.size());
  if (comm.rank() != 0) return;
  std::optional<eval::ShortcutResult> cut;
  if (shortcut) cut = noise_shortcut(f, n, num_classes);
  nlohmann::json j;
  j["file"] = path;
  j["kind"] = "noise";
  j["private"] = !shared;
  j["rows"] = n;
  j["height"] = h;
  j["width"] = w;
  j["channels"] = c;
  j["max_abs_delta_255"] = mx * 255.0;
  j["mask_density"] = n > 0 ? stats[1] / static_cast<double>(n * h * w) : 0.0;
  j["perturbed_pixel_density"] = n > 0 ? stats[2] / static_cast<double>(n * h * w) : 0.0;
  j[ld.size() == 2 ? "positives_per_label" : "class_counts"] = counts;
  nlohmann::json attrs;
  for (const auto& name : f.attr_names("/")) {
    if (auto sv = f.attr_string("/", name)) attrs[name] = *sv;
    else if (auto iv = f.attr_int("/", name)) attrs[name] = *iv;
    else if (auto dv = f.attr_double("/", name)) attrs[name] = *dv;
  }
  j["attributes"] = attrs;
  if (sim) {
    j["similarity"] = eval::similarity_json(*sim);
    j["similarity"]["data"] = data_path.empty() ? (attrs.contains("source") ? attrs["source"] : nlohmann::json()) : nlohmann::json(data_path);
  }
  if (cut)
    j["shortcut"] = {{"probe", "linear"},           {"holdout_accuracy", cut->holdout_accuracy},
                     {"fit_accuracy", cut->fit_accuracy}, {"chance", cut->chance},
                     {"fit_rows", cut->fit_rows},         {"holdout_rows", cut->holdout_rows}};
  if (json) {
    os << j.dump(2) << std::endl;
    return;
  }
  auto a = [&](const char* k) { return attrs.contains(k) ? attrs[k].dump() : std::string("?"); };
  os << fmt::format("{}: noise file, {} rows of {}x{}x{}\n", path, n, h, w, c);
  os << fmt::format("  method {}, k {}%, epsilon {}/255, source model {}, seed {}, ranks {}\n", a("method"), a("k"),
                           a("epsilon"), a("model"), a("seed"), a("ranks"));
  os << fmt::format("  source {} (sha256 {})\n", a("source"), a("source_sha256"));
  os << fmt::format("  max |delta| {:.3f}/255, mask density {:.2f}%, perturbed pixels {:.2f}%\n", mx * 255.0,
                           100.0 * j["mask_density"].get<double>(), 100.0 * j["perturbed_pixel_density"].get<double>());
  os << fmt::format("  {} iterations, final train accuracy on x+delta {}, loss {}\n", a("iterations"),
                           a("final_train_accuracy"), a("final_train_loss"));
  os << fmt::format("  {}: {}\n", ld.size() == 2 ? "positives per label" : "rows per class", fmt::join(counts, " "));
  if (sim)
    os << fmt::format("  similarity to the clean rows of {}: {}\n", j["similarity"]["data"].get<std::string>(),
                             eval::similarity_text(*sim));
  if (cut)
    os << fmt::format("  shortcut: a linear probe on delta alone predicts the label of {:.1f}% of held-out rows (chance "
                      "{:.1f}%; {} rows fitted, {} held out)\n",
                      100 * cut->holdout_accuracy, 100 * cut->chance, cut->fit_rows, cut->holdout_rows);
}

}  // namespace

void inspect(const InspectRequest& req, dist::Communicator& comm, std::ostream& os) {
  const auto& path = req.file;
  const bool similarity = req.similarity;
  const std::string data_path = req.data.value_or("");
  if (similarity && req.data && data_path.empty()) throw UsageError("--data: a dataset file is needed");
  {  // a noise file? (a FIFO or device is refused before it is opened: reading one would block)
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
      throw InputError(path, "is not a regular file (a FIFO, device or socket)");
    std::ifstream in(path, std::ios::binary);
    char magic[8] = {0};
    in.read(magic, 8);
    if (in && std::memcmp(magic, "\x89HDF\r\n\x1a\n", 8) == 0 && io::is_noise_file(io::H5File::open_read(path)))
      return inspect_noise(path, req.json, similarity, req.shortcut, data_path, comm, os);
  }
  if (similarity) throw UsageError(fmt::format("--similarity needs a noise file ({} is not one)", path));
  if (req.shortcut) throw UsageError(fmt::format("--shortcut needs a noise file ({} is not one)", path));
  auto reader = data::open_dataset(path);
  const auto& info = reader->info();
  std::vector<SplitSummary> splits;
  for (const auto& split : reader->splits()) splits.push_back(summarise(*reader, split, comm));
  if (comm.rank() != 0) return;
  if (req.json) {
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
    os << j.dump(2) << std::endl;
    return;
  }
  os << fmt::format("{}: dataset '{}'\n  task {}, {} {}\n  source: {}\n", path, info.name,
                           data::to_string(info.task), info.num_classes,
                           info.task == data::Task::multi_label ? "labels per image" : "classes", info.source);
  os << fmt::format("  {:<6} {:>8}  {:<10} {:>10}  {}\n", "split", "rows", "image", "background",
                           info.task == data::Task::multi_label ? "positives per label" : "images per class");
  for (const auto& sp : splits)
    os << fmt::format("  {:<6} {:>8}  {:<10} {:>9.1f}%  {}\n", sp.name, sp.shape.rows,
                             fmt::format("{}x{}x{}", sp.shape.height, sp.shape.width, sp.shape.channels),
                             100.0 * sp.background, fmt::join(sp.class_counts, " "));
}

}  // namespace salm::app
