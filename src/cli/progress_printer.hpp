// Shows ProgressEvents: a one-line bar with ETA on a terminal, plain lines when stderr is not a
// terminal, or JSON events (one object per line) on stdout for programs (--json).
#pragma once

#include <chrono>
#include <string>

#include "vkquant/vkquant.hpp"

namespace vkq::cli {

enum class ProgressStyle { Auto, Bar, Lines, Json, Quiet };

class ProgressPrinter {
 public:
  explicit ProgressPrinter(ProgressStyle style);
  void operator()(const ProgressEvent& e);
  ~ProgressPrinter() { end(); }  // an error message then starts on its own line
  void end();  // finishes the bar line

 private:
  ProgressStyle style_;
  bool bar_open_ = false;
  std::string last_line_key_;
  std::chrono::steady_clock::time_point last_draw_{};
};

std::string format_duration(double seconds);
std::string progress_event_json(const ProgressEvent& e);

}  // namespace vkq::cli
