// Helpers shared by the test binaries: temporary directories and running the salm binary.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "salm/eval/figures.hpp"

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

/// The tiny built-in dataset the end-to-end tests share (rows of 16x16x3, 3 classes, exactly
/// balanced: 48 train rows, 24 test rows), made once per test binary, and (made when first asked
/// for) a quick SALM noise file of it.
class Tiny {
  TempDir dir_;  // first: made before the paths in it
  mutable std::string noise_;

public:
  std::string data;
  std::string unused_noise;  ///< a path never written: for options refused before the noise file is opened

  Tiny();
  const std::string& noise() const;
};
const Tiny& tiny();

/// A PNG decoded (stb_image) to RGB; w = h = 0 and an added failure when it is not one.
struct DecodedPng {
  int w = 0, h = 0;
  std::vector<std::uint8_t> rgb;
  eval::Rgb at(int x, int y) const {
    const auto* p = &rgb[(static_cast<std::size_t>(y) * static_cast<std::size_t>(w) + static_cast<std::size_t>(x)) * 3];
    return {p[0], p[1], p[2]};
  }
};
DecodedPng decode_png(const std::string& png);

/// Checks the promises every noise file keeps against its source data (the `source` attribute):
/// rows in order with the source's labels, exactly ceil(k% of H*W) mask pixels per image shared
/// by the channels, no noise outside the mask, |delta| <= eps, x + delta in [0, 1], and
/// protected = round(255 (x + delta)). Adds test failures.
void check_guarantees(const std::string& noise, double k, double eps255);

bool file_exists(const std::string& path);
std::vector<std::string> list_dir(const std::string& path);
void write_file(const std::string& path, const std::string& bytes);
std::string read_file(const std::string& path);

}  // namespace salm::test
