/// The salm dataset file (DESIGN.md section 4): `/<split>/images` uint8 [N,H,W,C],
/// `/<split>/labels` int64 [N] or [N,L] for split in train, val, test; root attributes `name`,
/// `num_classes`, `task`, `source`.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "salm/data/reader.hpp"
#include "salm/dist/communicator.hpp"
#include "salm/io/h5.hpp"
#include "salm/io/publish.hpp"

namespace salm::data {

/// Opens and validates a salm dataset file (read-only, this rank alone). Labels are checked
/// against `num_classes` and the task as rows are read.
std::unique_ptr<DatasetReader> open_h5_dataset(const std::string& path);

/// Creates the groups, datasets and root attributes of a dataset file. Collective when the file
/// is parallel: every rank passes the same arguments.
void create_dataset_layout(io::H5File& file, const DatasetInfo& info,
                           const std::map<std::string, SplitShape>& splits);

/// Writes this rank's rows of one split. Collective when the file is parallel.
void write_split_rows(io::H5File& file, const SplitData& rows);

/// Produces rows [begin, begin+count) of a split (a reader, a generator).
using RowSource = std::function<SplitData(const std::string& split, std::int64_t begin, std::int64_t count)>;

/// Writes a whole dataset file: every rank produces and writes its own shard of every split, in
/// chunks of `chunk_rows` (bounded memory), collectively; the file is published atomically
/// (`path.partial`, renamed at the end). Refuses an existing `path` unless `overwrite`.
void write_dataset_file(const std::string& path, bool overwrite, dist::Communicator& comm,
                        const DatasetInfo& info, const std::map<std::string, SplitShape>& splits,
                        const RowSource& source, std::int64_t chunk_rows = 2048,
                        io::FileAccess access = io::FileAccess::usual);

}  // namespace salm::data
