/// The dataset a noise file protects, and the noise file's rows paired with the clean rows they
/// were made from (evaluate, inspect --similarity, export). Checked: a noise file of another
/// dataset is an InputError, not a silently wrong comparison.
#pragma once

#include <memory>
#include <string>

#include "salm/data/dataset.hpp"
#include "salm/data/reader.hpp"
#include "salm/dist/shard.hpp"
#include "salm/io/noise_file.hpp"

namespace salm::data {

/// The dataset `noise` protects: `data_path` when given, else the file's `source` attribute;
/// InputError when neither names one (or, for the attribute, it cannot be opened: the message
/// says to pass --data) or it lacks the protected split.
std::unique_ptr<DatasetReader> open_noise_source(const io::NoiseFile& noise, const std::string& data_path,
                                                 const OpenOptions& open = {});

/// Rows of a noise file with the clean rows they were made from.
struct ProtectedPairs {
  SplitData protected_;  ///< /protected and /labels; row_begin = the first noise-file row
  SplitData clean;       ///< the source rows named by /index, in the same order and with the same row_begin
};
/// Reads `rows` of `noise` and the source rows of `reader` that its /index names, checked: same
/// image shape, /index inside the source split, /labels equal to the source's labels.
ProtectedPairs read_protected_pairs(const io::NoiseFile& noise, DatasetReader& reader, const dist::Shard& rows);

}  // namespace salm::data
