/// A progress line for long loops: done/total, rate and ETA, printed by rank 0 only, at most
/// once per `interval` seconds (and once at the end), through the logger.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace salm {

class Progress {
public:
  /// `what` names the loop ("synth train"), `unit` the counted thing ("images").
  /// `enabled` is false on ranks other than 0.
  Progress(std::string what, std::int64_t total, std::string unit, bool enabled,
           double interval_seconds = 2.0);

  /// Adds `n` finished units; prints when the interval has passed.
  void advance(std::int64_t n = 1);
  /// Prints the final line (total time and mean rate) once.
  void finish();

  std::int64_t done() const { return done_; }
  double elapsed_seconds() const;

  /// "1234/5000 images (24.7%) 812.3 images/s, ETA 4.6 s": the text of one line.
  static std::string format_line(const std::string& what, std::int64_t done, std::int64_t total,
                                 const std::string& unit, double seconds);

private:
  std::string what_, unit_;
  std::int64_t total_, done_ = 0;
  bool enabled_, finished_ = false;
  double interval_;
  std::chrono::steady_clock::time_point start_, last_print_;
};

/// "3.2 s", "4 min 05 s", "2 h 03 min": a human duration.
std::string format_duration(double seconds);

}  // namespace salm
