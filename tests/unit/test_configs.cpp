// The configuration files shipped in configs/: every one is accepted by the subcommands of its
// sections, and every protect profile runs (briefly) with its own settings, so a profile that the
// README recommends cannot rot into an error or silently lose a setting.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "test_support.hpp"

using namespace salm;
using test::run_salm;

namespace {

struct Ini {
  std::map<std::string, std::string> top;                              ///< keys before any section
  std::map<std::string, std::map<std::string, std::string>> sections;  ///< [name] -> key -> value
};

/// A minimal reader for the INI subset our configs use (key = value, [section], # and ; comments).
Ini read_ini(const std::string& path) {
  Ini ini;
  std::istringstream in(test::read_file(path));
  const std::regex section(R"(^\s*\[([a-z-]+)\]\s*$)"), entry(R"(^\s*([a-z0-9-]+)\s*=\s*([^#;]*?)\s*(?:[#;].*)?$)");
  std::string line, current;
  for (std::smatch m; std::getline(in, line);) {
    if (std::regex_match(line, m, section)) {
      current = m[1];
      ini.sections[current];
    } else if (std::regex_match(line, m, entry)) {
      (current.empty() ? ini.top : ini.sections[current])[m[1]] = m[2];
    }
  }
  return ini;
}

std::vector<std::string> shipped_configs() {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(SALM_CONFIGS_DIR))
    if (e.path().extension() == ".ini") out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST(Configs, EverySectionIsAcceptedByItsSubcommand) {
  auto configs = shipped_configs();
  ASSERT_GE(configs.size(), 5u) << SALM_CONFIGS_DIR;
  for (const auto& path : configs) {
    auto ini = read_ini(path);
    ASSERT_FALSE(ini.sections.empty()) << path << " has no [subcommand] section";
    for (const auto& [sub, keys] : ini.sections) {
      // Without the run's own arguments the subcommand stops at a missing one; what matters is
      // that it got past the config file: no unknown key, no value that does not parse.
      auto r = run_salm({sub, "--config", path});
      for (const auto& line : test::error_lines(r.err)) EXPECT_EQ(line.find(path), std::string::npos) << line;
      EXPECT_EQ(r.err.find("unknown"), std::string::npos) << path << " [" << sub << "]: " << r.err;
    }
  }
}

TEST(Configs, EveryProtectProfileRunsWithItsSettings) {
  test::TempDir dir;
  std::string data = dir.file("d.h5");
  ASSERT_EQ(run_salm({"synth", "--out", data, "--train", "27", "--val", "0", "--test", "9", "--size", "16"}).exit_code, 0);
  // Only the cost is cut on the command line; every other setting comes from the profile.
  const std::map<std::string, std::string> overridden{{"max-iters", "1"}, {"train-steps", "1"}, {"pgd-steps", "2"}};
  int profiles = 0;
  for (const auto& path : shipped_configs()) {
    auto ini = read_ini(path);
    if (!ini.sections.count("protect")) continue;
    ++profiles;
    std::string out = dir.file("n" + std::to_string(profiles) + ".h5");
    std::vector<std::string> args{"protect", "--config", path, "--data", data, "--out", out, "--no-checkpoint", "--log-level", "warn"};
    for (const auto& [k, v] : overridden) args.insert(args.end(), {"--" + k, v});
    auto r = run_salm(args);
    ASSERT_EQ(r.exit_code, 0) << path << ": " << r.err;
    auto info = run_salm({"inspect", out, "--json"});
    ASSERT_EQ(info.exit_code, 0) << info.err;
    auto attrs = nlohmann::json::parse(info.out)["attributes"];
    auto settings = ini.top;
    for (const auto& [k, v] : ini.sections["protect"]) settings[k] = v;
    int checked = 0;
    for (const auto& [key, value] : settings) {
      std::string attr = std::regex_replace(key, std::regex("-"), "_");
      if (overridden.count(key) || !attrs.contains(attr)) continue;
      const auto& got = attrs[attr];
      if (got.is_number())
        EXPECT_DOUBLE_EQ(got.get<double>(), std::stod(value)) << path << ": " << key;
      else
        EXPECT_EQ(got.get<std::string>(), value) << path << ": " << key;
      ++checked;
    }
    EXPECT_GE(checked, 3) << path << ": too few of its settings reached the noise file";
  }
  EXPECT_GE(profiles, 3);
}
