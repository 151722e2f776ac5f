// salm inspect: a summary of a dataset (splits, shapes, classes, per-class counts, background) or of
// a noise file (options, noise statistics; with --similarity, SSIM/PSNR/L0/L-inf against the clean data).
#include <iostream>

#include <fmt/ranges.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "app.hpp"
#include "salm/core/error.hpp"
#include "salm/data/reader.hpp"
#include "salm/dist/shard.hpp"
#include "salm/eval/similarity.hpp"
#include "salm/io/h5.hpp"
#include "salm/io/noise_file.hpp"

#include <cmath>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>

namespace salm::cli {
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
eval::Similarity noise_similarity(const io::H5File& f, std::string data_path, dist::Communicator& comm) {
  const bool from_source = data_path.empty();
  if (from_source) {
    auto src = f.attr_string("/", "source");
    if (!src || src->empty()) throw InputError(f.path(), "has no 'source' attribute: give the clean data with --data");
    data_path = *src;
  }
  std::unique_ptr<data::DatasetReader> reader;
  try {
    reader = data::open_dataset(data_path);
  } catch (const InputError& e) {
    if (!from_source) throw;
    const std::string what = e.what();  // "PATH: problem"
    throw InputError(e.path(), what.substr(std::min(what.size(), e.path().size() + 2)) + " (the 'source' of " + f.path() +
                                   "; give the clean data with --data)");
  }
  auto pairs = read_protected_pairs(f, *reader, dist::shard_of(f.dims("/protected")[0], comm.rank(), comm.size()));
  return eval::similarity(pairs.clean, pairs.protected_, comm);
}

/// A noise file: method and options, max |delta|, mask density, per-class counts, accuracy; with
/// `similarity`, the similarity of its protected images to the clean ones.
int inspect_noise(const std::string& path, bool json, bool similarity, const std::string& data_path,
                  dist::Communicator& comm) {
  auto f = io::H5File::open_read(path);
  std::optional<eval::Similarity> sim;
  if (similarity) sim = noise_similarity(f, data_path, comm);
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
  if (comm.rank() != 0) return 0;
  nlohmann::json j;
  j["file"] = path;
  j["kind"] = "noise";
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
    j["similarity"] = similarity_json(*sim);
    j["similarity"]["data"] = data_path.empty() ? (attrs.contains("source") ? attrs["source"] : nlohmann::json()) : nlohmann::json(data_path);
  }
  if (json) {
    std::cout << j.dump(2) << std::endl;
    return 0;
  }
  auto a = [&](const char* k) { return attrs.contains(k) ? attrs[k].dump() : std::string("?"); };
  std::cout << fmt::format("{}: noise file, {} rows of {}x{}x{}\n", path, n, h, w, c);
  std::cout << fmt::format("  method {}, k {}%, epsilon {}/255, source model {}, seed {}, ranks {}\n", a("method"), a("k"),
                           a("epsilon"), a("model"), a("seed"), a("ranks"));
  std::cout << fmt::format("  source {} (sha256 {})\n", a("source"), a("source_sha256"));
  std::cout << fmt::format("  max |delta| {:.3f}/255, mask density {:.2f}%, perturbed pixels {:.2f}%\n", mx * 255.0,
                           100.0 * j["mask_density"].get<double>(), 100.0 * j["perturbed_pixel_density"].get<double>());
  std::cout << fmt::format("  {} iterations, final train accuracy on x+delta {}, loss {}\n", a("iterations"),
                           a("final_train_accuracy"), a("final_train_loss"));
  std::cout << fmt::format("  {}: {}\n", ld.size() == 2 ? "positives per label" : "rows per class", fmt::join(counts, " "));
  if (sim)
    std::cout << fmt::format("  similarity to the clean rows of {}: {}\n", j["similarity"]["data"].get<std::string>(),
                             similarity_text(*sim));
  return 0;
}

}  // namespace

Subcommand inspect_command() {
  Subcommand s;
  s.name = "inspect";
  s.summary = "summarise a dataset (.npz or .h5: splits, shapes, classes, background) or a noise file (options, max |delta|, mask density, accuracy; --similarity: SSIM, PSNR against the clean images)";
  s.usage = "[mpirun -n R] salm inspect FILE [--json] | NOISE.h5 --similarity [--data DATA] [--json]";
  s.options = [] {
    po::options_description o("inspect options");
    o.add_options()
      ("file", po::value<std::string>()->required(), "the file to summarise (also the first positional argument)")
      ("json", po::bool_switch(), "print JSON instead of text")
      ("similarity", po::bool_switch(), "noise file: SSIM, PSNR, L0 density and L-inf of its protected images against the clean ones")
      ("data", po::value<std::string>(), "with --similarity: the clean dataset (default: the noise file's 'source' attribute)");
    return o;
  };
  s.positional.add("file", 1);
  s.run = [](Context& ctx) {
    const auto path = ctx.vm["file"].as<std::string>();
    const bool similarity = ctx.vm["similarity"].as<bool>();
    const std::string data_path = ctx.vm.count("data") ? ctx.vm["data"].as<std::string>() : "";
    if (similarity && ctx.vm.count("data") && data_path.empty()) throw UsageError("--data: a dataset file is needed");
    {  // a noise file?
      std::ifstream in(path, std::ios::binary);
      char magic[8] = {0};
      in.read(magic, 8);
      if (in && std::memcmp(magic, "\x89HDF\r\n\x1a\n", 8) == 0 && io::is_noise_file(io::H5File::open_read(path)))
        return inspect_noise(path, ctx.vm["json"].as<bool>(), similarity, data_path, ctx.comm);
    }
    if (similarity) throw UsageError(fmt::format("--similarity needs a noise file ({} is not one)", path));
    auto reader = data::open_dataset(path);
    const auto& info = reader->info();
    std::vector<SplitSummary> splits;
    for (const auto& split : reader->splits()) splits.push_back(summarise(*reader, split, ctx.comm));
    if (ctx.comm.rank() != 0) return 0;
    if (ctx.vm["json"].as<bool>()) {
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
      std::cout << j.dump(2) << std::endl;
      return 0;
    }
    std::cout << fmt::format("{}: dataset '{}'\n  task {}, {} {}\n  source: {}\n", path, info.name,
                             data::to_string(info.task), info.num_classes,
                             info.task == data::Task::multi_label ? "labels per image" : "classes", info.source);
    std::cout << fmt::format("  {:<6} {:>8}  {:<10} {:>10}  {}\n", "split", "rows", "image", "background",
                             info.task == data::Task::multi_label ? "positives per label" : "images per class");
    for (const auto& sp : splits)
      std::cout << fmt::format("  {:<6} {:>8}  {:<10} {:>9.1f}%  {}\n", sp.name, sp.shape.rows,
                               fmt::format("{}x{}x{}", sp.shape.height, sp.shape.width, sp.shape.channels),
                               100.0 * sp.background, fmt::join(sp.class_counts, " "));
    return 0;
  };
  return s;
}

}  // namespace salm::cli
