// Progress events: fraction grows to 1, ETA appears once work is measurable, notices pass
// through, and a set cancel flag stops the run at the next report.
#include <gtest/gtest.h>

#include <thread>

#include "calibrate/progress_tracker.hpp"

namespace vkq {
namespace {

TEST(ProgressTracker, FractionIsMonotonicAndEndsAtOne) {
  std::vector<ProgressEvent> events;
  calibrate::ProgressTracker t([&](const ProgressEvent& e) { events.push_back(e); }, nullptr, 10);
  for (int i = 0; i < 5; ++i) {
    t.begin("calibrate", "block " + std::to_string(i), uint32_t(i + 1), 5);
    t.advance(2);
  }
  t.finish();
  ASSERT_FALSE(events.empty());
  for (size_t i = 1; i < events.size(); ++i) EXPECT_GE(events[i].fraction, events[i - 1].fraction);
  EXPECT_DOUBLE_EQ(events.back().fraction, 1.0);
  EXPECT_EQ(events.back().stage, "done");
  EXPECT_EQ(events[1].item, "block 0");
  EXPECT_EQ(events[1].steps, 5u);
}

TEST(ProgressTracker, EtaIsUnknownAtFirstThenEstimated) {
  std::vector<ProgressEvent> events;
  calibrate::ProgressTracker t([&](const ProgressEvent& e) { events.push_back(e); }, nullptr, 4);
  t.begin("quantize", "a", 1, 4);
  EXPECT_LT(events.back().eta_seconds, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  t.advance(1);
  // A quarter done after ~0.6 s: about 1.8 s remain.
  EXPECT_GT(events.back().eta_seconds, 1.0);
  EXPECT_LT(events.back().eta_seconds, 6.0);
}

TEST(ProgressTracker, NoticesCarryTheirMessage) {
  std::string seen;
  calibrate::ProgressTracker t([&](const ProgressEvent& e) { seen = e.message; }, nullptr, 1);
  t.notice("blk.0.ffn_down.weight: 172 columns, using F16");
  EXPECT_EQ(seen, "blk.0.ffn_down.weight: 172 columns, using F16");
}

TEST(ProgressTracker, CancelStopsAtTheNextReport) {
  CancelFlag cancel{false};
  int reports = 0;
  calibrate::ProgressTracker t([&](const ProgressEvent&) { ++reports; }, &cancel, 10);
  t.advance(1);
  cancel = true;
  EXPECT_THROW(t.advance(1), Cancelled);
  EXPECT_EQ(reports, 1);
}

}  // namespace
}  // namespace vkq
