// Option precedence: built-in default < --config FILE < SALM_* environment < command line.
#include <gtest/gtest.h>

#include <cstdlib>

#include "options.hpp"
#include "salm/core/error.hpp"
#include "test_support.hpp"

using namespace salm;
using namespace salm::cli;

namespace {

struct Fixture {
  po::options_description desc{"test"};
  Fixture() {
    desc.add_options()("seed", po::value<int>()->default_value(0), "")("name", po::value<std::string>()->default_value("d"), "")
        ("flag", po::bool_switch(), "")("num-classes", po::value<int>(), "");
    desc.add(common_options());
  }
  po::variables_map parse(std::vector<std::string> args) {
    ParseRequest req{"synth", &desc, nullptr, std::move(args), {"seed", "name", "flag", "num-classes", "epochs"},
                     {"synth", "evaluate"}};
    return cli::parse(req);
  }
};

}  // namespace

TEST(Options, EnvironmentNames) {
  EXPECT_EQ(env_name("num-classes"), "SALM_NUM_CLASSES");
  EXPECT_EQ(env_name("seed"), "SALM_SEED");
}

TEST(Options, PrecedenceDefaultConfigEnvironmentCommandLine) {
  test::TempDir dir;
  std::string ini = dir.file("a.ini");
  test::write_file(ini, "seed = 1\nname = from-config\nflag = true\n[synth]\nnum-classes = 4\n[evaluate]\nepochs = 3\n");
  unsetenv("SALM_SEED");
  unsetenv("SALM_NAME");
  Fixture f;
  auto vm = f.parse({});
  EXPECT_EQ(vm["seed"].as<int>(), 0);
  EXPECT_FALSE(vm["flag"].as<bool>());

  vm = f.parse({"--config", ini});
  EXPECT_EQ(vm["seed"].as<int>(), 1);
  EXPECT_EQ(vm["name"].as<std::string>(), "from-config");
  EXPECT_TRUE(vm["flag"].as<bool>());
  EXPECT_EQ(vm["num-classes"].as<int>(), 4);  // from the [synth] section

  setenv("SALM_SEED", "2", 1);
  vm = f.parse({"--config", ini});
  EXPECT_EQ(vm["seed"].as<int>(), 2);
  EXPECT_EQ(vm["name"].as<std::string>(), "from-config");

  vm = f.parse({"--config", ini, "--seed", "3"});
  EXPECT_EQ(vm["seed"].as<int>(), 3);
  unsetenv("SALM_SEED");

  setenv("SALM_CONFIG", ini.c_str(), 1);  // the config file itself can come from the environment
  vm = f.parse({});
  EXPECT_EQ(vm["seed"].as<int>(), 1);
  unsetenv("SALM_CONFIG");
}

TEST(Options, UnknownOrBadInputIsAUsageError) {
  test::TempDir dir;
  Fixture f;
  EXPECT_THROW(f.parse({"--no-such-option"}), UsageError);
  EXPECT_THROW(f.parse({"--seed", "many"}), UsageError);
  EXPECT_THROW(f.parse({"--config", dir.file("missing.ini")}), InputError);
  test::write_file(dir.file("typo.ini"), "sed = 4\n");
  try {
    f.parse({"--config", dir.file("typo.ini")});
    FAIL() << "a typo in a config file was accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("typo.ini"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("sed"), std::string::npos);
  }
  // a value that does not parse names the config file it is in, and the option
  test::write_file(dir.file("value.ini"), "[synth]\nnum-classes = many\n");
  try {
    f.parse({"--config", dir.file("value.ini")});
    FAIL() << "a bad value in a config file was accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("value.ini"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("num-classes"), std::string::npos) << e.what();
  }
  // ... unless the command line gives that option, which wins without reading the config's value
  EXPECT_EQ(f.parse({"--config", dir.file("value.ini"), "--num-classes", "3"})["num-classes"].as<int>(), 3);
  // and a bad value in the environment names the variable
  setenv("SALM_NUM_CLASSES", "several", 1);
  try {
    f.parse({});
    FAIL() << "a bad value in SALM_NUM_CLASSES was accepted";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("SALM_NUM_CLASSES"), std::string::npos) << e.what();
  }
  unsetenv("SALM_NUM_CLASSES");
  test::write_file(dir.file("section.ini"), "[synth]\nepochs = 4\n");
  EXPECT_THROW(f.parse({"--config", dir.file("section.ini")}), InputError);
  // a key of another subcommand at the top level is left to that subcommand
  test::write_file(dir.file("shared.ini"), "epochs = 4\nseed = 9\n");
  EXPECT_EQ(f.parse({"--config", dir.file("shared.ini")})["seed"].as<int>(), 9);
  // a section that names no subcommand (a typo) and a directory are errors, not silently ignored
  test::write_file(dir.file("typo-section.ini"), "[synht]\nseed = 4\n");
  EXPECT_THROW(f.parse({"--config", dir.file("typo-section.ini")}), InputError);
  EXPECT_THROW(f.parse({"--config", dir.path()}), InputError);
  // an unknown SALM_* variable (SALM_BIN for the Slurm scripts) is not an option and is ignored
  setenv("SALM_BIN", "/usr/bin/true", 1);
  EXPECT_NO_THROW(f.parse({}));
  unsetenv("SALM_BIN");
}

TEST(Options, ValuesHoldingTheParsersPlaceholdersAreRefusedNotLoopedOn) {
  // Boost.Program_options 1.74 substitutes "%value%" in its messages until none is left: a bad
  // value that contains it made the parser loop forever (found by tests/fuzz/fuzz_options).
  test::TempDir dir;
  Fixture f;
  test::write_file(dir.file("loop.ini"), "[synth]\nnum-classes = x%value%x\n");
  try {
    f.parse({"--config", dir.file("loop.ini")});
    FAIL() << "a placeholder in a config file was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("loop.ini"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("%value%"), std::string::npos) << e.what();
  }
  EXPECT_THROW(f.parse({"--num-classes", "%value%"}), UsageError);
  setenv("SALM_NUM_CLASSES", "%canonical_option%", 1);
  EXPECT_THROW(f.parse({}), UsageError);
  unsetenv("SALM_NUM_CLASSES");
  // an ordinary '%' is fine where the option takes text
  test::write_file(dir.file("percent.ini"), "[synth]\nnum-classes = 4\n# 50% of the rows\n");
  EXPECT_EQ(f.parse({"--config", dir.file("percent.ini")})["num-classes"].as<int>(), 4);
}
