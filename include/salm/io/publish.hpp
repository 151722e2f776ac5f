/// Atomic publication of an output file: the file is written as `OUT.partial` and renamed to
/// `OUT` only when every rank has finished. A run that fails leaves nothing at `OUT` and removes
/// its `.partial`; an existing `OUT` is never replaced unless the user passed --overwrite.
#pragma once

#include <string>

#include "salm/dist/communicator.hpp"
#include "salm/io/h5.hpp"

namespace salm::io {

/// Checks, before any work is done, that `path` can be written: its directory exists and is
/// writable, and neither it nor `path.partial` (another run's, or a killed one's) exists unless
/// `overwrite`. Throws InputError naming the file.
/// Collective: rank 0 checks and every rank throws the same error.
void check_output_path(const std::string& path, bool overwrite, dist::Communicator& comm);

/// An exclusive claim on an output for the life of a job: rank 0 holds flock(2) on `PATH.lock`
/// (created 0600, holding "pid host"), so a second run on the same output or checkpoint directory
/// is refused at once, with one line naming the holder, instead of racing for hours. A lock file
/// left by a killed run is not locked and is simply taken over (the kernel drops the lock with
/// its holder). Collective: every rank throws the same InputError. Removed on destruction.
class OutputLock {
public:
  OutputLock(const std::string& path, dist::Communicator& comm);
  ~OutputLock();
  OutputLock(const OutputLock&) = delete;
  OutputLock& operator=(const OutputLock&) = delete;

private:
  std::string lock_path_;
  int fd_ = -1;
};

/// Writes a small text file (report, CSV) atomically: `path.partial`, then rename. Not
/// collective: one rank calls it. Throws RuntimeError naming the file on failure.
void publish_text(const std::string& path, const std::string& text);

/// Who may read a file salm writes. Noise files, checkpoints and restored clean data are `owner`
/// only (mode 0600): with the source (or the release), a noise file gives back the clean images.
enum class FileAccess { usual, owner };

/// An HDF5 output being written. Construction is collective and creates `path.partial`
/// (exclusively: an existing `.partial` is removed only with `overwrite`, since another run may
/// still be writing it), with mode 0600 for FileAccess::owner (kept by the rename).
class AtomicH5Output {
public:
  AtomicH5Output(std::string path, bool overwrite, dist::Communicator& comm, FileAccess access = FileAccess::usual);
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
