#include "salm/io/checkpoint.hpp"

#include <sys/stat.h>

#include <cstdio>
#include <cerrno>
#include <cstring>
#include <vector>
#include <filesystem>
#include <fstream>

#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>
#include <torch/serialize/archive.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "salm/core/error.hpp"
#include "salm/core/system.hpp"
#include "salm/io/h5.hpp"
#include "salm/io/noise_file.hpp"

namespace salm::io {
namespace fs = std::filesystem;
namespace {
/// Only salm's own generation directories are ever removed ("it0003-stage1-step000012").
bool is_generation(const fs::directory_entry& e) {
  auto n = e.path().filename().string();
  return e.is_directory() && n.rfind("it", 0) == 0 && n.find("-stage") != std::string::npos;
}

/// The files of a generation, in the order they are written; the manifest holds their SHA-256.
const std::vector<std::string>& generation_files() {
  static const std::vector<std::string> f{"state.h5", "model.pt", "meta.json"};
  return f;
}

/// Writes `text` to `path` (0600) and checks that it arrived: "" or the problem.
std::string write_private(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) return fmt::format("{}: cannot write: {}", path.string(), std::strerror(errno));
  ::chmod(path.c_str(), 0600);
  return "";
}

/// "" when every file of generation `gen` has the SHA-256 its manifest says, else the problem.
std::string verify_manifest(const fs::path& gen) {
  std::ifstream in(gen / "manifest.json");
  if (!in) return "has no manifest.json (an unfinished or foreign checkpoint)";
  nlohmann::json m;
  try {
    m = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception&) {
    return "manifest.json is not valid JSON (damaged)";
  }
  for (const auto& name : generation_files()) {
    if (!m.contains("sha256") || !m["sha256"].contains(name)) return fmt::format("manifest.json does not list {}", name);
    std::string sha;
    try {
      sha = sha256_file((gen / name).string());
    } catch (const InputError&) {
      return fmt::format("{} is missing or unreadable", name);
    }
    if (sha != m["sha256"][name].get<std::string>())
      return fmt::format("{} does not match its SHA-256 in manifest.json (damaged or edited)", name);
  }
  return "";
}
}  // namespace

CheckpointStore::CheckpointStore(std::string dir, dist::Communicator& comm) : dir_(std::move(dir)), comm_(comm) {}

void CheckpointStore::save(CheckpointMeta meta, std::int64_t total_rows, std::int64_t row_begin, const at::Tensor& delta,
                           const at::Tensor& mask, const at::Tensor& masked, const at::Tensor& class_score,
                           torch::nn::Module& model,
                           torch::optim::Optimizer& opt) {
  meta.generation = fmt::format("it{:04d}-stage{}-step{:06d}", meta.iteration, meta.stage, meta.step);
  meta.ranks = comm_.size();
  meta.written_at = iso_time_now();
  fs::path gen = fs::path(dir_) / meta.generation;
  std::string problem;
  if (comm_.rank() == 0) {
    std::error_code ec;
    fs::create_directories(dir_, ec);
    if (!ec) {
      fs::remove_all(gen, ec);
      fs::create_directories(gen, ec);
    }
    if (ec) problem = fmt::format("{}: cannot create checkpoint directory: {}", gen.string(), ec.message());
    // A checkpoint holds the noise: as private as the noise file (its rows + the source = the key).
    ::chmod(dir_.c_str(), 0700);
    ::chmod(gen.c_str(), 0700);
  }
  comm_.broadcast_string(problem);
  if (!problem.empty()) throw RuntimeError(problem);

  try {
    auto f = H5File::create_exclusive((gen / "state.h5").string(), comm_.mpi_comm());
    std::int64_t c = delta.size(1), h = delta.size(2), w = delta.size(3), n = delta.size(0);
    f.create_dataset<float>("/delta", {total_rows, c, h, w});
    f.create_dataset<std::uint8_t>("/mask", {total_rows, h, w});
    f.create_dataset<std::uint8_t>("/masked", {total_rows});
    at::Tensor cs;
    if (class_score.defined()) {  // identical on every rank: rank 0 writes it
      cs = class_score.contiguous().cpu();
      f.create_dataset<float>("/class_score", {cs.size(0), cs.size(1), cs.size(2)});
    }
    // io's boundary: the rows go to the host (a no-op for CPU tensors).
    auto d = delta.contiguous().cpu(), m = mask.contiguous().cpu(), k = masked.contiguous().cpu();
    f.write_rows("/delta", row_begin, n, d.data_ptr<float>());
    f.write_rows("/mask", row_begin, n, m.data_ptr<std::uint8_t>());
    f.write_rows("/masked", row_begin, n, k.data_ptr<std::uint8_t>());
    if (cs.defined()) f.write_rows("/class_score", 0, comm_.rank() == 0 ? cs.size(0) : 0, cs.data_ptr<float>());
    f.close();
  } catch (const Error&) {
    // Every rank failed alike (H5File agrees on write errors); `latest` still names the
    // previous generation, which stays intact.
    std::error_code ec;
    if (comm_.rank() == 0) {
      fs::remove_all(gen, ec);
      fs::remove(dir_, ec);  // only if it is now empty (a first checkpoint that failed)
    }
    throw;
  }
  if (comm_.rank() == 0) {
    ::chmod((gen / "state.h5").c_str(), 0600);
    try {
      torch::serialize::OutputArchive archive, ma, oa;
      model.save(ma);
      opt.save(oa);
      archive.write("model", ma);
      archive.write("optimizer", oa);
      archive.save_to((gen / "model.pt").string());
      ::chmod((gen / "model.pt").c_str(), 0600);
    } catch (const c10::Error& e) {
      problem = fmt::format("{}: cannot write the model: {}", (gen / "model.pt").string(), e.what_without_backtrace());
    }
    nlohmann::json j{{"iteration", meta.iteration}, {"stage", meta.stage}, {"step", meta.step},
                     {"iterations_done", meta.iterations_done}, {"train_acc", meta.train_acc},
                     {"train_loss", meta.train_loss}, {"val_checks", meta.val_checks},
                     {"active", meta.active}, {"stage_steps", meta.stage_steps},
                     {"fingerprint", meta.fingerprint}, {"ranks", meta.ranks},
                     {"generation", meta.generation}, {"written_at", meta.written_at}};
    if (problem.empty()) problem = write_private(gen / "meta.json", j.dump(2) + "\n");
    // The manifest last: a generation without one (or whose files differ from it) is never resumed.
    if (problem.empty()) {
      nlohmann::json m;
      for (const auto& name : generation_files()) m["sha256"][name] = sha256_file((gen / name).string());
      problem = write_private(gen / "manifest.json.tmp", m.dump(2) + "\n");
      std::error_code ec;
      if (problem.empty()) fs::rename(gen / "manifest.json.tmp", gen / "manifest.json", ec);
      if (ec) problem = fmt::format("{}: cannot write: {}", (gen / "manifest.json").string(), ec.message());
    }
    // Switch `latest` atomically, then drop the older generations.
    fs::path tmp = fs::path(dir_) / "latest.tmp", latest = fs::path(dir_) / "latest";
    if (problem.empty()) problem = write_private(tmp, meta.generation + "\n");
    if (problem.empty()) {
      std::error_code ec;
      fs::rename(tmp, latest, ec);
      if (ec) problem = fmt::format("{}: cannot publish checkpoint: {}", latest.string(), ec.message());
    }
    std::error_code ec;
    if (problem.empty()) {
      for (const auto& e : fs::directory_iterator(dir_, ec))
        if (is_generation(e) && e.path().filename() != meta.generation) fs::remove_all(e.path(), ec);
    } else {
      fs::remove_all(gen, ec);  // the previous generation stays the latest
    }
  }
  comm_.broadcast_string(problem);
  if (!problem.empty()) throw RuntimeError(problem);
  spdlog::debug("checkpoint {} written", gen.string());
}

std::optional<CheckpointMeta> CheckpointStore::latest() const {
  // Rank 0 reads `latest` and verifies the generation against its manifest; every rank gets the
  // verdict (a damaged checkpoint is refused alike everywhere, never silently resumed).
  std::string gen, problem;
  int found = 0;
  if (comm_.rank() == 0) {
    std::ifstream in(fs::path(dir_) / "latest");
    if (in) {
      found = 1;
      std::getline(in, gen);
      if (gen.empty() || gen.find('/') != std::string::npos) problem = "names no checkpoint generation";
      else problem = verify_manifest(fs::path(dir_) / gen);
    }
  }
  comm_.broadcast_bytes(&found, sizeof(found), 0);
  if (!found) return std::nullopt;
  comm_.broadcast_string(gen);
  comm_.broadcast_string(problem);
  if (!problem.empty())
    throw InputError((fs::path(dir_) / gen).string(),
                     problem + "; remove the checkpoint directory to start over, or pass another --checkpoint-dir");
  fs::path meta = fs::path(dir_) / gen / "meta.json";
  std::ifstream m(meta);
  if (!m) throw InputError(meta.string(), "checkpoint metadata missing (remove the checkpoint directory to start over)");
  try {
    auto j = nlohmann::json::parse(m);
    CheckpointMeta c;
    c.iteration = j.at("iteration");
    c.stage = j.at("stage");
    c.step = j.at("step");
    c.iterations_done = j.at("iterations_done");
    c.train_acc = j.at("train_acc");
    c.train_loss = j.at("train_loss");
    if (j.contains("val_checks")) c.val_checks = j.at("val_checks").get<std::vector<std::pair<int, double>>>();
    if (j.contains("active")) c.active = j.at("active").get<std::vector<std::array<std::int64_t, 3>>>();
    if (j.contains("stage_steps")) c.stage_steps = j.at("stage_steps").get<std::array<std::int64_t, 2>>();
    c.fingerprint = j.at("fingerprint");
    c.ranks = j.at("ranks");
    c.generation = j.at("generation");
    c.written_at = j.value("written_at", "");
    return c;
  } catch (const nlohmann::json::exception& e) {
    throw InputError(meta.string(), fmt::format("bad checkpoint metadata: {}", e.what()));
  }
}

void CheckpointStore::load_rows(const CheckpointMeta& meta, std::int64_t row_begin, at::Tensor& delta, at::Tensor& mask,
                                at::Tensor& masked, at::Tensor& class_score) const {
  std::string path = (fs::path(dir_) / meta.generation / "state.h5").string();
  auto f = H5File::open_read(path);
  auto d = f.dims("/delta");
  if (d.size() != 4 || d[1] != delta.size(1) || d[2] != delta.size(2) || d[3] != delta.size(3) ||
      row_begin + delta.size(0) > d[0])
    throw InputError(path, "checkpoint shape does not match the data (remove the checkpoint directory to start over)");
  auto n = delta.size(0);
  auto dv = f.read_rows<float>("/delta", row_begin, n);
  auto mv = f.read_rows<std::uint8_t>("/mask", row_begin, n);
  auto kv = f.read_rows<std::uint8_t>("/masked", row_begin, n);
  // Into the given tensors, on whatever device they live.
  delta.copy_(torch::from_blob(dv.data(), delta.sizes(), torch::kFloat));
  mask.copy_(torch::from_blob(mv.data(), mask.sizes(), torch::kUInt8));
  masked.copy_(torch::from_blob(kv.data(), masked.sizes(), torch::kUInt8));
  if (f.exists("/class_score")) {
    auto cd = f.dims("/class_score");
    if (cd.size() != 3 || cd[1] != mask.size(1) || cd[2] != mask.size(2))
      throw InputError(path, "checkpoint /class_score does not match the data (remove the checkpoint directory)");
    auto cv = f.read_rows<float>("/class_score", 0, cd[0]);
    class_score = torch::from_blob(cv.data(), {cd[0], cd[1], cd[2]}, torch::kFloat).to(delta.device(), /*non_blocking=*/false,
                                                                                       /*copy=*/true);
  }
}

void CheckpointStore::load_model(const CheckpointMeta& meta, torch::nn::Module& model, torch::optim::Optimizer& opt) const {
  std::string path = (fs::path(dir_) / meta.generation / "model.pt").string();
  try {
    torch::serialize::InputArchive archive, ma, oa;
    // Onto the model's device, whichever device wrote the checkpoint.
    auto params = model.parameters();
    archive.load_from(path, params.empty() ? c10::Device(c10::kCPU) : params.front().device());
    archive.read("model", ma);
    archive.read("optimizer", oa);
    model.load(ma);
    opt.load(oa);
  } catch (const c10::Error& e) {
    throw InputError(path, fmt::format("cannot load the checkpointed model: {}", e.what_without_backtrace()));
  }
}

void CheckpointStore::remove() {
  comm_.barrier();
  if (comm_.rank() == 0) {
    std::error_code ec;
    fs::remove(fs::path(dir_) / "latest", ec);
    for (const auto& e : fs::directory_iterator(dir_, ec))
      if (is_generation(e)) fs::remove_all(e.path(), ec);
    fs::remove(dir_, ec);  // only if now empty
  }
  comm_.barrier();
}

}  // namespace salm::io
