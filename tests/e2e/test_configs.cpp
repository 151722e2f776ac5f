// The configuration files shipped in configs/: every one is accepted by the subcommands of its
// sections, and every protect profile runs (briefly) with its own settings, so a profile that the
// docs recommend cannot rot into an error or silently lose a setting.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/program_options/parsers.hpp>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "test_support.hpp"

using namespace salm;
using test::run_salm;

namespace {

struct Ini {
  std::map<std::string, std::string> top;                              ///< keys before any section
  std::map<std::string, std::map<std::string, std::string>> sections;  ///< [name] -> key -> value
};

/// Reads a config file with the parser salm itself uses (Boost.Program_options, every key
/// unregistered): "section.key" names a key of [section], a name without a dot a top-level one.
/// Section headers are read from the lines too, so that a section of comments only is listed.
Ini read_ini(const std::string& path) {
  Ini ini;
  std::istringstream lines(test::read_file(path));
  for (std::string line; std::getline(lines, line);)
    if (line.size() > 2 && line.front() == '[' && line.back() == ']') ini.sections[line.substr(1, line.size() - 2)];
  boost::program_options::options_description none;
  for (const auto& o : boost::program_options::parse_config_file<char>(path.c_str(), none, true).options) {
    std::string value = o.value.empty() ? "" : o.value.front();
    auto dot = o.string_key.find('.');
    if (dot == std::string::npos)
      ini.top[o.string_key] = value;
    else
      ini.sections[o.string_key.substr(0, dot)][o.string_key.substr(dot + 1)] = value;
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
      std::string attr = key;
      std::replace(attr.begin(), attr.end(), '-', '_');
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
