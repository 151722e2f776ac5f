// Writing salm dataset .h5 files (convert, synth, restore), apart from the reader in
// h5_dataset.cpp, which has no need of the communicator or atomic publication.
#include "salm/data/h5_dataset.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "salm/core/progress.hpp"
#include "salm/dist/shard.hpp"
#include "salm/io/publish.hpp"

namespace salm::data {

void create_dataset_layout(io::H5File& file, const DatasetInfo& info,
                           const std::map<std::string, SplitShape>& splits) {
  for (const auto& split : split_names()) {
    auto it = splits.find(split);
    if (it == splits.end()) continue;
    const SplitShape& s = it->second;
    file.create_group("/" + split);
    file.create_dataset<std::uint8_t>("/" + split + "/images", {s.rows, s.height, s.width, s.channels});
    if (s.label_dim > 0)
      file.create_dataset<std::int64_t>("/" + split + "/labels", {s.rows, s.label_dim});
    else
      file.create_dataset<std::int64_t>("/" + split + "/labels", {s.rows});
  }
  file.set_attr("/", "name", info.name);
  file.set_attr("/", "num_classes", info.num_classes);
  file.set_attr("/", "task", to_string(info.task));
  file.set_attr("/", "source", info.source);
}

void write_split_rows(io::H5File& file, const SplitData& rows) {
  file.write_rows("/" + rows.split + "/images", rows.row_begin, rows.rows(), rows.images.data());
  file.write_rows("/" + rows.split + "/labels", rows.row_begin, rows.rows(), rows.labels.data());
}

void write_dataset_file(const std::string& path, bool overwrite, dist::Communicator& comm,
                        const DatasetInfo& info, const std::map<std::string, SplitShape>& splits,
                        const RowSource& source, std::int64_t chunk_rows, io::FileAccess access) {
  io::AtomicH5Output out(path, overwrite, comm, access);
  create_dataset_layout(out.file(), info, splits);
  std::int64_t total = 0;
  for (const auto& [name, s] : splits) total += s.rows;
  Progress progress(fmt::format("writing {}", path), total, "images", comm.rank() == 0);
  for (const auto& split : split_names()) {
    auto it = splits.find(split);
    if (it == splits.end()) continue;
    std::int64_t n = it->second.rows;
    auto mine = dist::shard_of(n, comm.rank(), comm.size());
    // Every rank makes the same number of (collective) write calls, some with no rows.
    std::int64_t largest = (n + comm.size() - 1) / comm.size();
    std::int64_t chunks = (largest + chunk_rows - 1) / chunk_rows;
    for (std::int64_t c = 0; c < chunks; ++c) {
      std::int64_t begin = std::min(mine.end, mine.begin + c * chunk_rows);
      std::int64_t count = std::min(mine.end, begin + chunk_rows) - begin;
      SplitData rows = count > 0 ? source(split, begin, count) : SplitData{split, begin, it->second, {}, {}};
      rows.shape.rows = count;
      write_split_rows(out.file(), rows);
      progress.advance(count * comm.size());
    }
  }
  out.commit();
  progress.finish();
}

}  // namespace salm::data
