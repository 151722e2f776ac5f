#include "salm/core/progress.hpp"

#include <cmath>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace salm {

Progress::Progress(std::string what, std::int64_t total, std::string unit, bool enabled,
                   double interval_seconds)
    : what_(std::move(what)), unit_(std::move(unit)), total_(total), enabled_(enabled),
      interval_(interval_seconds), start_(std::chrono::steady_clock::now()), last_print_(start_) {}

double Progress::elapsed_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void Progress::advance(std::int64_t n) {
  done_ += n;
  if (!enabled_) return;
  auto now = std::chrono::steady_clock::now();
  if (std::chrono::duration<double>(now - last_print_).count() >= interval_ && done_ < total_) {
    last_print_ = now;
    spdlog::info("{}", format_line(what_, done_, total_, unit_, elapsed_seconds()));
  }
}

void Progress::finish() {
  if (finished_) return;
  finished_ = true;
  if (!enabled_) return;
  double s = elapsed_seconds();
  double rate = s > 0 ? static_cast<double>(done_) / s : 0.0;
  spdlog::info("{}: {} {} in {} ({:.1f} {}/s)", what_, done_, unit_, format_duration(s), rate, unit_);
}

std::string Progress::format_line(const std::string& what, std::int64_t done, std::int64_t total,
                                  const std::string& unit, double seconds) {
  double rate = seconds > 0 ? static_cast<double>(done) / seconds : 0.0;
  double pct = total > 0 ? 100.0 * static_cast<double>(done) / static_cast<double>(total) : 100.0;
  std::string eta = rate > 0 ? format_duration(static_cast<double>(total - done) / rate) : "?";
  return fmt::format("{}: {}/{} {} ({:.1f}%) {:.1f} {}/s, ETA {}", what, done, total, unit, pct,
                     rate, unit, eta);
}

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  if (seconds < 60) return fmt::format("{:.1f} s", seconds);
  auto s = static_cast<long long>(std::llround(seconds));
  if (s < 3600) return fmt::format("{} min {:02} s", s / 60, s % 60);
  return fmt::format("{} h {:02} min", s / 3600, (s % 3600) / 60);
}

}  // namespace salm
