// Options described once: the option tables (core/option_table.hpp) drive the command line,
// INI files and the environment (cli/option_fields.hpp), validation, the checkpoint fingerprint
// and the attributes/report values. In-process, no salm binary.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <set>

#include "app.hpp"
#include "option_fields.hpp"
#include "salm/app/protect.hpp"
#include "salm/core/options.hpp"
#include "test_support.hpp"

using namespace salm;
using namespace salm::cli;

namespace {

/// Parses `args` against the table of T (plus the common options), as a subcommand would.
template <class T>
T parse_as(std::vector<std::string> args, po::variables_map* out = nullptr) {
  po::options_description d("t");
  add_fields<T>(d);
  d.add(common_options());
  ParseRequest req{"protect", &d, nullptr, std::move(args), option_names(d), {"protect"}};
  auto vm = parse(req);
  T o;
  read_fields(vm, o);
  if (out) *out = vm;
  return o;
}

/// A table with a repeatable option.
struct Repeat {
  std::vector<std::string> with;
  template <class Self, class V>
  static void fields(Self& s, V&& v) {
    v(opt::field("with", s.with, "repeatable"));
  }
};

std::string value_of(const std::vector<std::pair<std::string, opt::Value>>& values, const std::string& key) {
  for (const auto& [k, v] : values)
    if (k == key) return opt::format(v);
  return "<absent>";
}

}  // namespace

TEST(OptionTable, DefaultsAreTheStructsOwnValuesExactly) {
  auto o = parse_as<ProtectOptions>({});
  ProtectOptions d;
  // Not 8 * (1/255) * 255 / 255: the very same double, so a default run is bit-identical.
  EXPECT_EQ(std::memcmp(&o.epsilon, &d.epsilon, sizeof(double)), 0);
  EXPECT_EQ(std::memcmp(&o.step_size, &d.step_size, sizeof(double)), 0);
  EXPECT_EQ(o.method, Method::salm);
  EXPECT_EQ(o.model, d.model);
  // The help shows the user's units.
  po::options_description desc("t");
  add_fields<ProtectOptions>(desc);
  std::ostringstream help;
  help << desc;
  EXPECT_NE(help.str().find("--epsilon arg (=8)"), std::string::npos) << help.str();
  EXPECT_NE(help.str().find("--method arg (=salm)"), std::string::npos) << help.str();
}

TEST(OptionTable, ValuesAreReadInTheUsersUnitsAndEnumsByName) {
  auto o = parse_as<ProtectOptions>({"--epsilon", "16", "--step-size", "2", "--method", "em", "--mask-scope", "class",
                                     "--init", "texture", "--eot-transforms", "flip-crop", "--seed", "7"});
  EXPECT_EQ(o.epsilon, 16.0 / 255.0);
  EXPECT_EQ(o.step_size, 2.0 / 255.0);
  EXPECT_EQ(o.method, Method::em);
  EXPECT_EQ(o.mask_scope, MaskScope::klass);
  EXPECT_EQ(o.init, Init::texture);
  EXPECT_EQ(o.eot_transforms, Augment::flip_crop);
  EXPECT_EQ(o.seed, 7u);
  // Names come back the same way for files and reports.
  auto v = opt::values(o);
  EXPECT_EQ(value_of(v, "epsilon"), "16");
  EXPECT_EQ(value_of(v, "mask_scope"), "class");
  EXPECT_EQ(value_of(v, "eot_transforms"), "flip-crop");
  EXPECT_EQ(value_of(v, "step_size"), "2");
  for (const auto& [e, name] : opt::EnumNames<Init>::values()) EXPECT_EQ(opt::parse<Init>("init", name), e);
}

TEST(OptionTable, BadValuesAreUsageErrorsNamingTheOption) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases{
      {{"--method", "magic"}, "--method: unknown value 'magic' (one of: salm, em, tap, sp, random)"},
      {{"--k", "0"}, "--k must be in (0, 100], got 0"},
      {{"--momentum", "nan"}, "--momentum must be in [0, 1)"},
      {{"--lr", "inf"}, "--lr must be > 0"},
      {{"--stop-acc", "nan"}, "--stop-acc"},
      {{"--epsilon", "300"}, "--epsilon must be in (0, 255], got 300"},
      {{"--pgd-steps", "0"}, "--pgd-steps must be >= 1, got 0"},
      {{"--split", "dev"}, "--split"}};
  for (const auto& [args, needle] : cases) {
    try {
      parse_as<ProtectOptions>(args).validate();
      FAIL() << args[0] << " " << args[1] << " was accepted";
    } catch (const UsageError& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  }
  EXPECT_NO_THROW(parse_as<ProtectOptions>({"--k", "100", "--momentum", "0"}).validate());
}

TEST(OptionTable, OptionalAndRepeatableFields) {
  auto o = parse_as<data::OpenOptions>({});
  EXPECT_FALSE(o.num_classes.has_value());
  EXPECT_FALSE(o.task.has_value());
  o = parse_as<data::OpenOptions>({"--num-classes", "4", "--task", "multi-label"});
  EXPECT_EQ(o.num_classes, 4);
  EXPECT_EQ(o.task, data::Task::multi_label);
  EXPECT_THROW(parse_as<data::OpenOptions>({"--num-classes", "0"}).validate(), UsageError);
  EXPECT_THROW(parse_as<data::OpenOptions>({"--task", "regression"}), UsageError);
  EXPECT_EQ(parse_as<Repeat>({"--with", "a", "--with", "b"}).with, (std::vector<std::string>{"a", "b"}));
}

TEST(OptionTable, TheFingerprintHoldsWhatTheResultDependsOn) {
  ProtectOptions a;
  auto fp = opt::fingerprint(a);
  for (const char* key : {"method=salm", "k=10", "epsilon=8", "seed=0", "mask_scope=sample", "model=resnet18"})
    EXPECT_NE(fp.find(key), std::string::npos) << key << " in " << fp;
  const auto differs = [&](auto change) {
    ProtectOptions b = a;
    change(b);
    return opt::fingerprint(b) != fp;
  };
  EXPECT_TRUE(differs([](ProtectOptions& b) { b.k = 20; }));
  EXPECT_TRUE(differs([](ProtectOptions& b) { b.init = Init::klass; }));
  // Another --max-iters or --stop-acc is another run: a checkpoint of it is not resumed.
  EXPECT_TRUE(differs([](ProtectOptions& b) { b.max_iters = 20; }));
  EXPECT_TRUE(differs([](ProtectOptions& b) { b.stop_acc = 0.5; }));
  EXPECT_TRUE(differs([](ProtectOptions& b) { b.precision = Precision::bf16; }));
  // So is another closed loop: its target and its judge decide when the run stops.
  EXPECT_TRUE(differs([](ProtectOptions& b) { b.target_val_acc = 0.2; }));
  EXPECT_TRUE(differs([](ProtectOptions& b) { b.check_epochs = 9; }));
  EXPECT_TRUE(differs([](ProtectOptions& b) { b.check_augment = Augment::flip_crop; }));
  // And the active set's rules: a checkpoint is resumed only under the rules that made it.
  EXPECT_TRUE(differs([](ProtectOptions& b) { b.active_change = 0.0; }));
  EXPECT_TRUE(differs([](ProtectOptions& b) { b.active_loss = 0.01; }));
  // Every option of the table is in the attributes; the files' options are not.
  std::set<std::string> keys;
  for (const auto& [k, v] : opt::values(a)) keys.insert(k);
  EXPECT_EQ(keys.size(), 33u);
  EXPECT_TRUE(opt::values(app::ProtectFiles{}).empty());
}

TEST(OptionTable, NoSubcommandHasAnOptionTwice) {
  for (const auto& s : subcommands()) {
    auto d = s.options();
    d.add(common_options());
    std::set<std::string> seen;
    for (const auto& o : d.options()) EXPECT_TRUE(seen.insert(o->long_name()).second) << s.name << " --" << o->long_name();
  }
}
