#include "salm/io/noise_file.hpp"

#include <algorithm>
#include <filesystem>

#include <openssl/evp.h>

#include <fstream>
#include <memory>
#include <type_traits>
#include <variant>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "salm/core/error.hpp"
#include "salm/io/publish.hpp"

namespace salm::io {

void create_noise_layout(H5File& f, const NoiseLayout& l) {
  f.create_dataset<float>("/delta", {l.rows, l.height, l.width, l.channels});
  f.create_dataset<std::uint8_t>("/mask", {l.rows, l.height, l.width});
  f.create_dataset<std::uint8_t>("/protected", {l.rows, l.height, l.width, l.channels});
  if (l.label_dim > 0)
    f.create_dataset<std::int64_t>("/labels", {l.rows, l.label_dim});
  else
    f.create_dataset<std::int64_t>("/labels", {l.rows});
  f.create_dataset<std::int64_t>("/index", {l.rows});
}

void write_noise_rows(H5File& f, const NoiseRows& r) {
  f.write_rows("/delta", r.row_begin, r.rows, r.delta);
  f.write_rows("/mask", r.row_begin, r.rows, r.mask);
  f.write_rows("/protected", r.row_begin, r.rows, r.protected_);
  f.write_rows("/labels", r.row_begin, r.rows, r.labels);
  f.write_rows("/index", r.row_begin, r.rows, r.index);
}

bool is_noise_file(const H5File& f) { return f.exists("/delta") && f.exists("/mask") && f.exists("/protected"); }

void write_attributes(H5File& f, const Attributes& attrs) {
  for (const auto& [k, v] : attrs)
    std::visit(
        [&, key = k](const auto& x) {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, std::monostate>) return;
          else if constexpr (std::is_same_v<T, bool>) f.set_attr("/", key, std::int64_t{x});
          else f.set_attr("/", key, x);
        },
        v);
}

namespace {

/// Rank 0's attributes on every rank. Parallel HDF5 writes attributes collectively: ranks that
/// pass values of different sizes (a clock read on each rank, a count only one rank holds) would
/// lay out the file's metadata differently and wait for each other for ever. The file says what
/// rank 0 says.
Attributes rank0_attributes(const Attributes& attrs, dist::Communicator& comm) {
  if (comm.size() == 1) return attrs;
  std::string text;
  if (comm.rank() == 0) {
    auto j = nlohmann::json::array();
    for (const auto& [k, v] : attrs) j.push_back({k, v.index(), std::visit(
                                                    [](const auto& x) -> nlohmann::json {
                                                      if constexpr (std::is_same_v<std::decay_t<decltype(x)>, std::monostate>)
                                                        return nullptr;
                                                      else return x;
                                                    },
                                                    v)});
    text = j.dump();
  }
  comm.broadcast_string(text);
  Attributes out;
  for (const auto& e : nlohmann::json::parse(text)) {
    const auto& key = e[0].get_ref<const std::string&>();
    switch (e[1].get<std::size_t>()) {
      case 1: out.emplace_back(key, e[2].get<bool>()); break;
      case 2: out.emplace_back(key, e[2].get<std::int64_t>()); break;
      case 3: out.emplace_back(key, e[2].get<double>()); break;
      case 4: out.emplace_back(key, e[2].get<std::string>()); break;
      default: out.emplace_back(key, std::monostate{});
    }
  }
  return out;
}

}  // namespace

void write_noise_file(const std::string& path, bool overwrite, dist::Communicator& comm, const NoiseLayout& layout,
                      const NoiseRows& rows, const Attributes& attrs) {
  const auto same = rank0_attributes(attrs, comm);  // before the file exists: nothing to clean up
  AtomicH5Output out(path, overwrite, comm, FileAccess::owner);  // the key: private
  create_noise_layout(out.file(), layout);
  write_noise_rows(out.file(), rows);
  write_attributes(out.file(), same);
  out.commit();
}

NoiseFile NoiseFile::open(const std::string& path) {
  auto f = H5File::open_read(path);
  if (!is_noise_file(f)) throw InputError(path, "not a salm noise file (no /delta, /mask, /protected)");
  return NoiseFile(std::move(f));
}

std::int64_t NoiseFile::rows() const { return file_.dims("/protected").at(0); }

std::string NoiseFile::split() const { return file_.attr_string("/", "split").value_or("train"); }

std::optional<std::string> NoiseFile::source() const { return file_.attr_string("/", "source"); }

namespace {

/// SHA-256 of what `feed` passes to its callback, as lowercase hex.
template <typename Feed>
std::string sha256_hex(Feed feed) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) throw RuntimeError("SHA-256 init failed");
  feed([&](const char* data, std::size_t n) { EVP_DigestUpdate(ctx.get(), data, n); });
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx.get(), md, &len);
  std::string hex;
  for (unsigned i = 0; i < len; ++i) hex += fmt::format("{:02x}", md[i]);
  return hex;
}

}  // namespace

std::string sha256_file(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {  // an IDX directory: the hashes of its files, by name
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(path, ec))
      if (e.is_regular_file()) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    std::string all;
    for (const auto& n : names) all += n + " " + sha256_file(path + "/" + n) + "\n";
    return sha256_hex([&](auto update) { update(all.data(), all.size()); });
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path, "cannot be read");
  return sha256_hex([&](auto update) {
    std::vector<char> buf(1 << 20);
    while (in) {
      in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
      if (in.gcount() > 0) update(buf.data(), static_cast<std::size_t>(in.gcount()));
    }
  });
}

}  // namespace salm::io
