// Ctrl-C (SIGINT) and SIGTERM (what `timeout`, systemd and app process managers send) during a
// long command: the first signal asks the run to stop at its next check, after which it removes its
// partial files itself; a second signal quits at once, removing the partial files from the handler.
// The previous handlers come back when the guard goes out of scope, on success and on errors alike.
#pragma once

#include <csignal>
#include <string>
#include <vector>

#include "vkquant/vkquant.hpp"

namespace vkq::cli {

class InterruptGuard {
 public:
  // `partial_paths`: files the run may have half-written (OUT.partial, OUT.json.partial).
  InterruptGuard(CancelFlag& cancel, const std::vector<std::string>& partial_paths);
  ~InterruptGuard();
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;

  // The signal that asked to stop (SIGINT or SIGTERM), 0 when none: exit status 128 + it.
  static int received();

 private:
  struct sigaction old_int_ {}, old_term_ {};
};

}  // namespace vkq::cli
