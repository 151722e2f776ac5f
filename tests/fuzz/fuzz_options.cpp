// libFuzzer harness: bytes as an INI file given with --config, parsed by the option layer with
// options of every kind salm has (numbers, strings, switches, repeatable values).
#include "fuzz_common.hpp"

#include "options.hpp"
#include "salm/core/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace po = boost::program_options;
  static const std::string path = salm::fuzz::scratch("config.ini");
  salm::fuzz::write_file(path, data, size);
  po::options_description own("protect options");
  own.add_options()("pgd-steps", po::value<int>()->default_value(20), "")("eps", po::value<double>(), "")(
      "model", po::value<std::string>()->default_value("small-cnn"), "")("overwrite", po::bool_switch(), "")(
      "max-rows", po::value<std::vector<std::string>>(), "");
  po::options_description all("all");
  all.add(own).add(salm::cli::common_options());
  salm::cli::ParseRequest req{"protect", &all, nullptr, {"--config", path},
                              {"pgd-steps", "eps", "model", "overwrite", "max-rows", "classes", "out"},
                              {"protect", "synth", "evaluate"}};
  try {
    auto vm = salm::cli::parse(req);
    (void)vm;
  } catch (const salm::Error&) {
  }
  return 0;
}
