// Turns a run's weighted work units into ProgressEvents with a fraction and an ETA, and
// checks the cancellation flag at every report (so cancelling is never later than one unit).
#pragma once

#include <chrono>
#include <string>

#include "vkquant/vkquant.hpp"

namespace vkq::calibrate {

class ProgressTracker {
 public:
  ProgressTracker(ProgressCallback callback, const CancelFlag* cancel, double total_units);

  // Reports the start of an item of `units` work units within `stage` (step/steps for display).
  void begin(const std::string& stage, const std::string& item, uint32_t step, uint32_t steps);
  // Marks `units` more work as done and reports.
  void advance(double units);
  // A notice for the user (fallbacks, retries); does not move the fraction.
  void notice(const std::string& message);
  void finish();

  // Throws vkq::Cancelled when the caller asked to stop.
  void check_cancelled() const;
  double elapsed_seconds() const;
  double fraction() const;

 private:
  void emit(const std::string& message);
  ProgressCallback callback_;
  const CancelFlag* cancel_;
  double total_, done_ = 0;
  std::chrono::steady_clock::time_point start_;
  ProgressEvent current_;
};

}  // namespace vkq::calibrate
