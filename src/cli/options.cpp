#include "options.hpp"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <sys/stat.h>

#include "salm/core/error.hpp"

namespace salm::cli {

po::options_description common_options() {
  po::options_description d("Common options");
  d.add_options()
    ("help,h", "show this help and exit")
    ("config", po::value<std::string>(), "read options from this INI file (keys are long option names; "
                                         "top level or [<subcommand>] section)")
    ("log-level", po::value<std::string>()->default_value("info"), "trace, debug, info, warn, error or off")
    ("threads", po::value<int>()->default_value(0),
     "intra-op threads per rank (0: from OMP_NUM_THREADS, SLURM_CPUS_PER_TASK or the CPU affinity mask)");
  return d;
}

std::string env_name(const std::string& option) {
  std::string s = "SALM_";
  for (char c : option) s += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::set<std::string> option_names(const po::options_description& desc) {
  std::set<std::string> out;
  for (const auto& o : desc.options()) out.insert(o->long_name());
  return out;
}

namespace {

/// Boost.Program_options (1.74) builds its error messages by replacing placeholders such as
/// "%value%" until none is left: a value that itself contains one makes that loop endless (found
/// by tests/fuzz/fuzz_options). Such text is refused before Boost sees it.
void refuse_placeholders(const std::string& where, const std::string& text) {
  if (text.find('%') == std::string::npos) return;
  for (const char* p : {"%value%", "%canonical_option%", "%option%", "%prefix%", "%original_token%", "%invalid_line%"})
    if (text.find(p) != std::string::npos)
      throw UsageError(fmt::format("{}: '{}' may not contain '{}' (a placeholder of the option parser)", where,
                                   text.size() > 80 ? text.substr(0, 80) + "..." : text, p));
}

/// Reads an INI file into options of `desc`: top-level keys and keys of section [sub]. Keys of
/// other sections are left alone (they belong to other subcommands); a top-level key that no
/// subcommand knows is an error (a typo should not be silently ignored).
po::parsed_options parse_ini(const std::string& path, const ParseRequest& req) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw InputError(path, "cannot open config file");
  if (!S_ISREG(st.st_mode)) throw InputError(path, "is not a config file (--config needs a regular INI file)");
  std::ifstream file(path, std::ios::binary);
  if (!file) throw InputError(path, "cannot open config file");
  std::ostringstream text;
  text << file.rdbuf();
  refuse_placeholders(path, text.str());
  std::istringstream in(text.str());
  po::options_description none;
  po::parsed_options raw(&none);
  try {
    raw = po::parse_config_file(in, none, true);
  } catch (const po::error& e) {
    throw InputError(path, fmt::format("bad config file: {}", e.what()));
  }
  auto mine = option_names(*req.options);
  po::parsed_options out(req.options);
  for (auto& o : raw.options) {
    std::string key = o.string_key;
    auto dot = key.find('.');
    if (dot != std::string::npos) {
      const std::string section = key.substr(0, dot);
      if (!req.sections.count(section))
        throw InputError(path, fmt::format("unknown section [{}] (sections are subcommand names: {})", section,
                                           fmt::join(req.sections, ", ")));
      if (section != req.subcommand) continue;  // another subcommand's section
      key = key.substr(dot + 1);
      if (!mine.count(key))
        throw InputError(path, fmt::format("[{}] has unknown option '{}'", req.subcommand, key));
    } else if (!mine.count(key)) {
      if (req.all_known.count(key)) continue;  // another subcommand's option
      throw InputError(path, fmt::format("unknown option '{}'", key));
    }
    if (key == "config" || key == "help") throw InputError(path, fmt::format("'{}' is not allowed in a config file", key));
    po::option opt(key, o.value);
    opt.original_tokens = o.original_tokens;
    out.options.push_back(opt);
  }
  return out;
}

}  // namespace

po::variables_map parse(const ParseRequest& req) {
  po::variables_map vm;
  for (const auto& a : req.args) refuse_placeholders("salm " + req.subcommand, a);
  for (const auto& n : option_names(*req.options))
    if (const char* v = std::getenv(env_name(n).c_str())) refuse_placeholders(env_name(n), v);
  try {
    po::command_line_parser parser(req.args);
    parser.options(*req.options);
    if (req.positional) parser.positional(*req.positional);
    po::store(parser.run(), vm);
    if (vm.count("help")) return vm;

    auto names = option_names(*req.options);
    auto from_env = po::parse_environment(*req.options, [&](const std::string& var) -> std::string {
      for (const auto& n : names)
        if (env_name(n) == var && n != "help" && n != "config") return n;
      return "";
    });
    try {
      po::store(from_env, vm);
    } catch (const po::error_with_option_name& e) {  // a value that does not parse: name the variable
      std::string name = e.get_option_name();
      name.erase(0, name.find_first_not_of('-'));
      throw UsageError(fmt::format("salm {}: {}: {}", req.subcommand, env_name(name), e.what()));
    }
    const char* env_config = std::getenv("SALM_CONFIG");
    std::string config = vm.count("config") ? vm["config"].as<std::string>() : (env_config ? env_config : "");
    if (!config.empty()) {
      auto parsed = parse_ini(config, req);
      try {
        po::store(parsed, vm);
      } catch (const po::error& e) {  // a value that does not parse: name the file it is in
        throw InputError(config, e.what());
      }
    }
    po::notify(vm);
  } catch (const po::required_option& e) {
    throw UsageError(fmt::format("salm {}: missing {} (see salm {} --help)", req.subcommand,
                                 e.get_option_name(), req.subcommand));
  } catch (const po::error& e) {
    throw UsageError(fmt::format("salm {}: {} (see salm {} --help)", req.subcommand, e.what(), req.subcommand));
  }
  return vm;
}

std::vector<std::pair<std::string, std::string>> resolved(const po::variables_map& vm) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [name, v] : vm) {
    if (name == "help" || v.empty()) continue;
    const auto& a = v.value();
    std::string s;
    if (const auto* x = boost::any_cast<std::string>(&a)) s = *x;
    else if (const auto* i = boost::any_cast<int>(&a)) s = std::to_string(*i);
    else if (const auto* l = boost::any_cast<long>(&a)) s = std::to_string(*l);
    else if (const auto* ll = boost::any_cast<long long>(&a)) s = std::to_string(*ll);
    else if (const auto* u = boost::any_cast<unsigned long>(&a)) s = std::to_string(*u);
    else if (const auto* d = boost::any_cast<double>(&a)) s = fmt::format("{}", *d);
    else if (const auto* b = boost::any_cast<bool>(&a)) s = *b ? "true" : "false";
    else s = "?";
    out.emplace_back(name, s);
  }
  return out;
}

}  // namespace salm::cli
