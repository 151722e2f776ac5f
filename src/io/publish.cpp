#include "salm/io/publish.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "salm/core/error.hpp"

namespace salm::io {
namespace {

std::string parent_dir(const std::string& path) {
  auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

/// Rank 0's verdict on the output path: "" when fine, else the problem.
std::string output_problem(const std::string& path, bool overwrite) {
  if (path.empty()) return "empty output path";
  struct stat st {};
  std::string dir = parent_dir(path);
  if (::stat(dir.c_str(), &st) != 0) return fmt::format("output directory '{}' does not exist", dir);
  if (!S_ISDIR(st.st_mode)) return fmt::format("'{}' is not a directory", dir);
  if (::stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return "is a directory";
    if (!overwrite) return "already exists (pass --overwrite to replace it)";
  }
  if (!overwrite && ::stat((path + ".partial").c_str(), &st) == 0)
    return fmt::format("{}.partial exists: another salm run may be writing it, or one was killed; remove it or pass "
                       "--overwrite",
                       path);
  // Probe writability by creating a file: access(2) says yes to root on read-only places.
  std::string probe = fmt::format("{}/.salm-write-probe-{}", dir, ::getpid());
  int fd = ::open(probe.c_str(), O_CREAT | O_EXCL | O_WRONLY, 0600);
  if (fd < 0) return fmt::format("output directory '{}' is not writable ({})", dir, std::strerror(errno));
  ::close(fd);
  ::unlink(probe.c_str());
  return "";
}

/// Rank 0 evaluates `problem()`, every rank receives it and throws the same InputError.
template <typename F>
void agree_or_throw(const std::string& path, dist::Communicator& comm, F problem) {
  std::string p;
  if (comm.rank() == 0) p = problem();
  comm.broadcast_string(p, 0);
  if (!p.empty()) throw InputError(path, p);
}

}  // namespace

void check_output_path(const std::string& path, bool overwrite, dist::Communicator& comm) {
  agree_or_throw(path, comm, [&] { return output_problem(path, overwrite); });
}

OutputLock::OutputLock(const std::string& path, dist::Communicator& comm) : lock_path_(path + ".lock") {
  std::string problem;
  if (comm.rank() == 0) {
    fd_ = ::open(lock_path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd_ < 0) {
      problem = fmt::format("cannot create its lock file {}: {}", lock_path_, std::strerror(errno));
    } else if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      char holder[256] = {0};
      ssize_t n = ::pread(fd_, holder, sizeof(holder) - 1, 0);
      std::string who = n > 0 ? std::string(holder, static_cast<std::size_t>(n)) : "unknown";
      while (!who.empty() && (who.back() == '\n' || who.back() == ' ')) who.pop_back();
      problem = fmt::format("is in use by another salm run (pid and host: {}; it holds {})", who, lock_path_);
      ::close(fd_);
      fd_ = -1;
    } else {
      char host[256] = {0};
      ::gethostname(host, sizeof(host) - 1);
      std::string me = fmt::format("{} {}\n", ::getpid(), host);
      if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, me.data(), me.size(), 0) != static_cast<ssize_t>(me.size()))
        spdlog::debug("{}: cannot record the holder", lock_path_);
    }
  }
  comm.broadcast_string(problem, 0);
  if (!problem.empty()) throw InputError(path, problem);
}

OutputLock::~OutputLock() {
  if (fd_ < 0) return;
  ::unlink(lock_path_.c_str());  // while still holding it: a waiting run finds no file, or a free one
  ::close(fd_);
}

void publish_text(const std::string& path, const std::string& text) {
  std::string tmp = path + ".partial";
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) throw RuntimeError(fmt::format("{}: cannot write: {}", path, std::strerror(errno)));
  bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  ok = std::fclose(f) == 0 && ok;
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw RuntimeError(fmt::format("{}: cannot write: {}", path, std::strerror(errno)));
  }
}

AtomicH5Output::AtomicH5Output(std::string path, bool overwrite, dist::Communicator& comm, FileAccess access)
    : path_(std::move(path)), overwrite_(overwrite), comm_(comm),
      file_([&]() -> H5File {
        check_output_path(path_, overwrite_, comm_);
        std::string partial = path_ + ".partial";
        agree_or_throw(partial, comm_, [&]() -> std::string {
          struct stat st {};
          if (::stat(partial.c_str(), &st) != 0) return "";
          if (!overwrite_)
            return "exists: another salm run may be writing it, or one was killed; remove it or pass "
                   "--overwrite";
          if (::unlink(partial.c_str()) != 0) return fmt::format("cannot remove: {}", std::strerror(errno));
          return "";
        });
        comm_.barrier();
        auto f = H5File::create_exclusive(partial, comm_.mpi_comm());
        if (access == FileAccess::owner && comm_.rank() == 0 && ::chmod(partial.c_str(), 0600) != 0)
          spdlog::warn("{}: cannot make it private (chmod 600): {}", partial, std::strerror(errno));
        return f;
      }()) {}

AtomicH5Output::~AtomicH5Output() {
  if (committed_) return;
  // No collective here: other ranks may be gone. Whoever unwinds removes the partial file.
  file_.abandon();
  std::string partial = partial_path();
  if (::unlink(partial.c_str()) == 0) spdlog::debug("removed unfinished {}", partial);
}

void AtomicH5Output::commit() {
  file_.close();
  comm_.barrier();
  std::string problem;
  if (comm_.rank() == 0) {
    struct stat st {};
    if (::stat(path_.c_str(), &st) == 0 && !overwrite_) {
      problem = "appeared while salm was writing it; not replaced (the result is in " + partial_path() + ")";
    } else if (std::rename(partial_path().c_str(), path_.c_str()) != 0) {
      problem = fmt::format("cannot rename {} to it: {}", partial_path(), std::strerror(errno));
    }
  }
  comm_.broadcast_string(problem, 0);
  committed_ = problem.empty() || problem.rfind("appeared", 0) == 0;  // keep the partial in that case
  if (!problem.empty()) throw RuntimeError(path_ + ": " + problem);
}

}  // namespace salm::io
