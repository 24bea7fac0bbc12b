#include "cli/progress_printer.hpp"

#include "cli/commands.hpp"

#include <nlohmann/json.hpp>
#include <unistd.h>

#include <cmath>
#include <cstdio>

namespace vkq::cli {

std::string format_duration(double seconds) {
  if (seconds < 0) return "--:--";
  const long s = long(std::lround(seconds));
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
  else
    std::snprintf(buf, sizeof buf, "%02ld:%02ld", s / 60, s % 60);
  return buf;
}

std::string progress_event_json(const ProgressEvent& e) {
  nlohmann::json j = {{"event", "progress"}, {"schema", kJsonEventsSchema}, {"stage", e.stage}, {"item", e.item}, {"step", e.step},
                      {"steps", e.steps}, {"fraction", e.fraction}, {"elapsed_s", e.elapsed_seconds},
                      {"eta_s", e.eta_seconds}};
  if (!e.message.empty()) j["message"] = e.message;
  return j.dump();
}

ProgressPrinter::ProgressPrinter(ProgressStyle style) : style_(style) {
  if (style_ == ProgressStyle::Auto) style_ = ::isatty(STDERR_FILENO) ? ProgressStyle::Bar : ProgressStyle::Lines;
}

void ProgressPrinter::operator()(const ProgressEvent& e) {
  switch (style_) {
    case ProgressStyle::Quiet:
      return;
    case ProgressStyle::Json:
      std::printf("%s\n", progress_event_json(e).c_str());
      std::fflush(stdout);
      return;
    case ProgressStyle::Lines: {
      if (!e.message.empty()) std::fprintf(stderr, "note: %s\n", e.message.c_str());
      // One line per stage step, not per event, so logs stay readable.
      const std::string key = e.stage + "/" + std::to_string(e.step);
      if (key == last_line_key_ && e.stage != "done") return;
      last_line_key_ = key;
      std::fprintf(stderr, "[%3.0f%%] %s %u/%u %s  elapsed %s  eta %s\n", 100 * e.fraction, e.stage.c_str(), e.step,
                   e.steps, e.item.c_str(), format_duration(e.elapsed_seconds).c_str(),
                   format_duration(e.eta_seconds).c_str());
      return;
    }
    default: {
      if (!e.message.empty()) {
        std::fprintf(stderr, "%snote: %s\n", bar_open_ ? "\r\033[K" : "", e.message.c_str());
        bar_open_ = false;
      }
      const auto now = std::chrono::steady_clock::now();
      if (e.stage != "done" && now - last_draw_ < std::chrono::milliseconds(100)) return;  // no flicker
      last_draw_ = now;
      const int width = 30;
      const int filled = int(e.fraction * width + 0.5);
      std::fprintf(stderr, "\r\033[K[%.*s%.*s] %3.0f%% %s %u/%u %.40s  eta %s", filled,
                   "##############################", width - filled, "                              ",
                   100 * e.fraction, e.stage.c_str(), e.step, e.steps, e.item.c_str(),
                   format_duration(e.eta_seconds).c_str());
      std::fflush(stderr);
      bar_open_ = true;
    }
  }
}

void ProgressPrinter::end() {
  if (bar_open_) std::fprintf(stderr, "\n");
  bar_open_ = false;
}

}  // namespace vkq::cli
