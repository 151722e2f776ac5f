/// Atomic publication of an output file: the file is written as `OUT.partial` and renamed to
/// `OUT` only when every rank has finished. A run that fails leaves nothing at `OUT` and removes
/// its `.partial`; an existing `OUT` is never replaced unless the user passed --overwrite.
#pragma once

#include <string>

#include "salm/dist/communicator.hpp"
#include "salm/io/h5.hpp"

namespace salm::io {

/// Checks, before any work is done, that `path` can be written: its directory exists and is
/// writable, and it does not exist unless `overwrite`. Throws InputError naming the file.
/// Collective: rank 0 checks and every rank throws the same error.
void check_output_path(const std::string& path, bool overwrite, dist::Communicator& comm);

/// Writes a small text file (report, CSV) atomically: `path.partial`, then rename. Not
/// collective: one rank calls it. Throws RuntimeError naming the file on failure.
void publish_text(const std::string& path, const std::string& text);

/// An HDF5 output being written. Construction is collective and creates `path.partial`
/// (exclusively: an existing `.partial` is removed only with `overwrite`, since another run may
/// still be writing it).
class AtomicH5Output {
public:
  AtomicH5Output(std::string path, bool overwrite, dist::Communicator& comm);
  ~AtomicH5Output();
  AtomicH5Output(const AtomicH5Output&) = delete;
  AtomicH5Output& operator=(const AtomicH5Output&) = delete;

  H5File& file() { return file_; }
  const std::string& path() const { return path_; }
  std::string partial_path() const { return path_ + ".partial"; }

  /// Collective: closes the file, then rank 0 renames `.partial` to the final path
  /// (replacing an existing file only if `overwrite` was given).
  void commit();

private:
  std::string path_;
  bool overwrite_;
  dist::Communicator& comm_;
  H5File file_;
  bool committed_ = false;
};

}  // namespace salm::io
