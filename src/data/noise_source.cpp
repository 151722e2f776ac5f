#include "salm/data/noise_source.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "salm/core/error.hpp"

namespace salm::data {

std::unique_ptr<DatasetReader> open_noise_source(const io::NoiseFile& noise, const std::string& data_path,
                                                 const OpenOptions& open) {
  if (!data_path.empty()) {
    auto reader = open_dataset(data_path, open);
    reader->require_splits({noise.split()});
    return reader;
  }
  auto source = noise.source();
  if (!source || source->empty())
    throw InputError(noise.path(), "has no 'source' attribute: give the clean data with --data");
  try {
    auto reader = open_dataset(*source, open);
    reader->require_splits({noise.split()});
    return reader;
  } catch (const InputError& e) {
    const std::string what = e.what();  // "PATH: problem"
    throw InputError(e.path(), what.substr(std::min(what.size(), e.path().size() + 2)) + " (the 'source' of " +
                                   noise.path() + "; give the clean data with --data)");
  }
}

ProtectedPairs read_protected_pairs(const io::NoiseFile& noise, DatasetReader& reader, const dist::Shard& rows) {
  const auto& f = noise.h5();
  const std::string& noise_path = noise.path();
  auto split = noise.split();
  reader.require_splits({split});
  const auto& s = reader.shape(split);
  auto d = f.dims("/protected");
  if (d.size() != 4 || d[1] != s.height || d[2] != s.width || d[3] != s.channels)
    throw InputError(noise_path, fmt::format("/protected images do not have the shape {}x{}x{} of {}", s.height, s.width,
                                             s.channels, reader.path()));
  const std::int64_t begin = rows.begin, count = rows.size();
  ProtectedPairs p;
  auto& out = p.protected_;
  out.split = split;
  out.row_begin = begin;
  out.shape = s;
  out.shape.rows = count;
  out.images = f.read_rows<std::uint8_t>("/protected", begin, count);
  out.labels = f.read_rows<std::int64_t>("/labels", begin, count);
  auto index = f.read_rows<std::int64_t>("/index", begin, count);
  p.clean = out;
  if (count == 0) return p;
  // The clean rows /index names; their labels must be the noise file's: a noise file of another
  // dataset is caught here.
  auto lo = *std::min_element(index.begin(), index.end()), hi = *std::max_element(index.begin(), index.end());
  if (lo < 0 || hi >= s.rows)
    throw InputError(noise_path, fmt::format("/index refers to rows outside the '{}' split of {}", split, reader.path()));
  auto src = reader.read(split, lo, hi - lo + 1);
  const std::int64_t le = s.label_elems(), ie = s.image_elems();
  for (std::int64_t i = 0; i < count; ++i) {
    const std::int64_t r = index[static_cast<std::size_t>(i)] - lo;
    for (std::int64_t j = 0; j < le; ++j)
      if (src.labels[static_cast<std::size_t>(r * le + j)] != out.labels[static_cast<std::size_t>(i * le + j)])
        throw InputError(noise_path, fmt::format("labels differ from those of {} at row {}: a noise file of another dataset?",
                                                 reader.path(), index[static_cast<std::size_t>(i)]));
    std::copy(src.image(r), src.image(r) + ie, p.clean.image(i));
  }
  return p;
}

}  // namespace salm::data
