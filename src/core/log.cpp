#include "salm/core/log.hpp"

#include <algorithm>
#include <memory>

#include <spdlog/sinks/stdout_sinks.h>

#include "salm/core/error.hpp"

namespace salm::log {
namespace {
int g_rank = 0;
}

void init(int rank, int size, const std::string& level) {
  g_rank = rank;
  auto lvl = spdlog::level::from_str(level);
  if (lvl == spdlog::level::off && level != "off")
    throw UsageError(fmt::format("unknown log level '{}' (trace, debug, info, warn, error, off)", level));
  auto logger = std::make_shared<spdlog::logger>(fmt::format("salm-{}", rank),
                                                  std::make_shared<spdlog::sinks::stderr_sink_mt>());
  std::string pattern = size > 1 ? fmt::format("[%H:%M:%S] [rank {}] [%l] %v", rank)
                                 : std::string("[%H:%M:%S] [%l] %v");
  logger->set_pattern(pattern);
  // Ranks other than 0 only report problems: one voice per job.
  logger->set_level(rank == 0 ? lvl : std::max(lvl, spdlog::level::warn));
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(logger);
}

int rank() { return g_rank; }

}  // namespace salm::log
