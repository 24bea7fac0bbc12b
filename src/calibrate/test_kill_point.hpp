// Crash testing: VKQ_TEST_KILL_AT=POINT makes the process kill itself with SIGKILL when it reaches the
// named point ("checkpoint 2", "solve blk.1 ffn_gate_up", "write 5"), so a test can interrupt a run at an
// exact place and check that --resume recovers. No cleanup runs, exactly as for a crash or `kill -9`.
#pragma once

#include <csignal>
#include <cstdlib>
#include <string>

namespace vkq::calibrate {

inline void test_kill_point(const std::string& point) {
  static const char* const at = std::getenv("VKQ_TEST_KILL_AT");
  if (at && point == at) std::raise(SIGKILL);
}

}  // namespace vkq::calibrate
