#include "salm/core/error.hpp"

namespace salm::detail {

void throw_check_failed(const char* expr, const char* file, int line, const std::string& msg) {
  throw RuntimeError(fmt::format("internal check failed: {} ({}) at {}:{}", msg, expr, file, line));
}

}  // namespace salm::detail
