#include "test_support.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <stb_image.h>

#include "salm/data/reader.hpp"
#include "salm/io/h5.hpp"
#include "salm/io/noise_file.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

extern char** environ;

namespace salm::test {

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/salm-test-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (!::mkdtemp(buf.data())) throw std::runtime_error("mkdtemp failed");
  path_ = buf.data();
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

RunResult run_process(const std::vector<std::string>& args, const std::vector<std::string>& env) {
  int out_pipe[2], err_pipe[2];
  if (::pipe(out_pipe) != 0 || ::pipe(err_pipe) != 0) throw std::runtime_error("pipe failed");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err_pipe[1], 2);
  posix_spawn_file_actions_addclose(&fa, out_pipe[0]);
  posix_spawn_file_actions_addclose(&fa, err_pipe[0]);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  std::vector<std::string> envs;
  for (char** e = environ; *e; ++e) envs.emplace_back(*e);
  for (const auto& e : env) envs.push_back(e);
  std::vector<char*> argv, envp;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : envs) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, argv[0], &fa, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  RunResult r;
  if (rc != 0) {
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    r.err = std::string("spawn failed: ") + std::strerror(rc);
    return r;
  }
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&r.out, &r.err};
  int open_fds = 2;
  char buf[65536];
  while (open_fds > 0) {
    if (::poll(fds, 2, -1) < 0) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = ::read(fds[i].fd, buf, sizeof(buf));
      if (n > 0) {
        sinks[i]->append(buf, static_cast<std::size_t>(n));
      } else {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

RunResult run_salm(const std::vector<std::string>& args, const std::vector<std::string>& env) {
  std::vector<std::string> full{SALM_BINARY};
  full.insert(full.end(), args.begin(), args.end());
  return run_process(full, env);
}

RunResult run_salm_mpi(int ranks, const std::vector<std::string>& args) {
  std::vector<std::string> full{SALM_MPIEXEC, "-n", std::to_string(ranks), SALM_BINARY};
  full.insert(full.end(), args.begin(), args.end());
  return run_process(full, {"OMPI_ALLOW_RUN_AS_ROOT=1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1",
                            "OMPI_MCA_rmaps_base_oversubscribe=1", "OMP_NUM_THREADS=1"});
}

void expect_one_error(const RunResult& r, const std::string& needle) {
  EXPECT_EQ(r.exit_code, 2) << r.err;
  auto lines = error_lines(r.err);
  ASSERT_EQ(lines.size(), 1u) << r.err;
  EXPECT_NE(lines[0].find(needle), std::string::npos) << lines[0];
}

std::vector<std::string> error_lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("salm: error:", 0) == 0) out.push_back(line);
  return out;
}

std::string fixture(const std::string& name) {
  std::string dir = SALM_FIXTURES_DIR;
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) return "";
  return dir + "/" + name;
}

bool file_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

std::vector<std::string> list_dir(const std::string& path) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(path)) out.push_back(e.path().filename().string());
  return out;
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary);
  f << bytes;
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

Tiny::Tiny() : data(dir_.file("tiny.h5")), unused_noise(dir_.file("never-read.h5")) {
  auto r = run_salm({"synth", "--out", data, "--classes", "3", "--train", "48", "--val", "0", "--test", "24", "--size", "16"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

const std::string& Tiny::noise() const {
  if (noise_.empty()) {
    noise_ = dir_.file("noise.h5");
    auto r = run_salm({"protect", "--data", data, "--out", noise_, "--model", "small-cnn", "--pgd-steps", "3",
                       "--train-steps", "2", "--max-iters", "2", "--batch-size", "16", "--stop-acc", "0"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
  }
  return noise_;
}

DecodedPng decode_png(const std::string& png) {
  DecodedPng d;
  int comp = 0;
  unsigned char* p = stbi_load_from_memory(reinterpret_cast<const unsigned char*>(png.data()), static_cast<int>(png.size()),
                                           &d.w, &d.h, &comp, 3);
  EXPECT_NE(p, nullptr) << "not a PNG stb can read";
  if (p) {
    d.rgb.assign(p, p + static_cast<std::size_t>(d.w) * static_cast<std::size_t>(d.h) * 3);
    stbi_image_free(p);
  }
  return d;
}

/// Checks the promises every noise file keeps, against the source data.
void check_guarantees(const std::string& noise, double k, double eps255) {
  auto f = io::H5File::open_read(noise);
  ASSERT_TRUE(io::is_noise_file(f));
  auto d = f.dims("/delta");
  ASSERT_EQ(d.size(), 4u);
  const std::int64_t n = d[0], h = d[1], w = d[2], c = d[3];
  auto delta = f.read_all<float>("/delta");
  auto mask = f.read_all<std::uint8_t>("/mask");
  auto prot = f.read_all<std::uint8_t>("/protected");
  auto index = f.read_all<std::int64_t>("/index");
  auto labels = f.read_all<std::int64_t>("/labels");
  auto src = data::open_dataset(f.attr_string("/", "source").value())->read_all("train");
  const std::int64_t m = static_cast<std::int64_t>(std::ceil(k / 100.0 * static_cast<double>(h * w) - 1e-9));
  const float eps = static_cast<float>(eps255 / 255.0);
  for (std::int64_t i = 0; i < n; ++i) {
    std::int64_t on = 0;
    ASSERT_EQ(index[static_cast<std::size_t>(i)], i);
    ASSERT_EQ(labels[static_cast<std::size_t>(i)], src.labels[static_cast<std::size_t>(i)]);
    for (std::int64_t p = 0; p < h * w; ++p) {
      bool in = mask[static_cast<std::size_t>(i * h * w + p)] != 0;
      on += in;
      for (std::int64_t ch = 0; ch < c; ++ch) {
        auto e = static_cast<std::size_t>((i * h * w + p) * c + ch);
        float dv = delta[e];
        ASSERT_LE(std::abs(dv), eps + 1e-6f) << "row " << i;
        if (!in) ASSERT_EQ(dv, 0.0f) << "noise outside the mask, row " << i << " pixel " << p;
        float x = static_cast<float>(src.images[e]) / 255.0f;
        ASSERT_GE(x + dv, -1e-6f);
        ASSERT_LE(x + dv, 1.0f + 1e-6f);
        float scaled = std::clamp(255.0f * (x + dv), 0.0f, 255.0f);
        auto want = static_cast<int>(std::lround(scaled));
        // An exact tie (k + 0.5) may round either way (LibTorch rounds half to even).
        bool tie = std::abs(scaled - std::floor(scaled) - 0.5f) < 1e-3f;
        if (tie) ASSERT_LE(std::abs(static_cast<int>(prot[e]) - want), 1) << "row " << i;
        else ASSERT_EQ(static_cast<int>(prot[e]), want) << "row " << i;
      }
    }
    ASSERT_EQ(on, m) << "mask size of row " << i;
  }
}

const Tiny& tiny() {
  static Tiny t;
  return t;
}

}  // namespace salm::test
