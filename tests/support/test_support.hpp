// Helpers shared by the test binaries: temporary directories and running the salm binary.
#pragma once

#include <string>
#include <vector>

namespace salm::test {

/// A fresh directory under $TMPDIR, removed (recursively) on destruction.
class TempDir {
public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

private:
  std::string path_;
};

struct RunResult {
  int exit_code = -1;
  std::string out;  ///< stdout
  std::string err;  ///< stderr
};

/// Runs `args` (no shell) and captures stdout, stderr and the exit code.
RunResult run_process(const std::vector<std::string>& args, const std::vector<std::string>& env = {});

/// Runs the salm binary built with the tests: salm <args...>.
RunResult run_salm(const std::vector<std::string>& args, const std::vector<std::string>& env = {});

/// Runs salm under mpirun with `ranks` ranks.
RunResult run_salm_mpi(int ranks, const std::vector<std::string>& args);

/// The lines of `text` that start with "salm: error:".
std::vector<std::string> error_lines(const std::string& text);

/// Expects a refused run: exit code 2 and exactly one error line, which contains `needle`.
void expect_one_error(const RunResult& r, const std::string& needle);

/// Path of a fixture in ../shared/fixtures ("" if the directory is absent).
std::string fixture(const std::string& name);

bool file_exists(const std::string& path);
std::vector<std::string> list_dir(const std::string& path);
void write_file(const std::string& path, const std::string& bytes);
std::string read_file(const std::string& path);

}  // namespace salm::test
