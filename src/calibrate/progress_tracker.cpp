#include "calibrate/progress_tracker.hpp"

#include <algorithm>

namespace vkq::calibrate {

ProgressTracker::ProgressTracker(ProgressCallback callback, const CancelFlag* cancel, double total_units)
    : callback_(std::move(callback)), cancel_(cancel), total_(std::max(total_units, 1e-9)),
      start_(std::chrono::steady_clock::now()) {}

double ProgressTracker::elapsed_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

double ProgressTracker::fraction() const { return std::clamp(done_ / total_, 0.0, 1.0); }

void ProgressTracker::check_cancelled() const {
  if (cancel_ && cancel_->load()) throw Cancelled();
}

void ProgressTracker::emit(const std::string& message) {
  check_cancelled();
  if (!callback_) return;
  current_.fraction = fraction();
  current_.elapsed_seconds = elapsed_seconds();
  // The ETA extrapolates the rate so far; it needs some work done before it means anything.
  current_.eta_seconds = current_.fraction > 0.01 && current_.elapsed_seconds > 0.5
                             ? current_.elapsed_seconds * (1.0 - current_.fraction) / current_.fraction
                             : -1.0;
  current_.message = message;
  callback_(current_);
}

void ProgressTracker::begin(const std::string& stage, const std::string& item, uint32_t step, uint32_t steps) {
  current_.stage = stage;
  current_.item = item;
  current_.step = step;
  current_.steps = steps;
  emit("");
}

void ProgressTracker::advance(double units) {
  done_ += units;
  emit("");
}

void ProgressTracker::notice(const std::string& message) { emit(message); }

void ProgressTracker::finish() {
  done_ = total_;
  current_.stage = "done";
  current_.item.clear();
  emit("");
}

}  // namespace vkq::calibrate
