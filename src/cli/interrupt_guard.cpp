#include "cli/interrupt_guard.hpp"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace vkq::cli {

namespace {

// Only async-signal-safe state: fixed buffers written before the handlers are installed.
constexpr size_t kMaxPaths = 4, kMaxPath = 4096;
char g_paths[kMaxPaths][kMaxPath];
size_t g_path_count = 0;
CancelFlag* g_cancel = nullptr;
bool g_hold_cancel = false;  // test hook VKQ_TEST_HOLD_CANCEL: a first signal that no check sees in time
volatile std::sig_atomic_t g_received = 0;
static_assert(std::atomic<bool>::is_always_lock_free, "the cancel flag is set from a signal handler");

extern "C" void on_signal(int sig) {
  if (g_received != 0) {  // second signal: quit now, leaving nothing half-written behind
    for (size_t i = 0; i < g_path_count; ++i) ::unlink(g_paths[i]);
    const char msg[] = "\nvkquant: interrupted twice: stopped at once, partial output removed\n";
    (void)!::write(2, msg, sizeof msg - 1);
    ::_exit(128 + sig);
  }
  g_received = sig;
  if (g_cancel && !g_hold_cancel) g_cancel->store(true);
  const char msg[] = "\nvkquant: stopping at the next check (interrupt again to quit at once)\n";
  (void)!::write(2, msg, sizeof msg - 1);
}

}  // namespace

InterruptGuard::InterruptGuard(CancelFlag& cancel, const std::vector<std::string>& partial_paths) {
  g_cancel = &cancel;
  g_received = 0;
  const char* hold = std::getenv("VKQ_TEST_HOLD_CANCEL");
  g_hold_cancel = hold && *hold == '1';
  g_path_count = 0;
  for (const auto& p : partial_paths)
    if (g_path_count < kMaxPaths && p.size() < kMaxPath) std::strcpy(g_paths[g_path_count++], p.c_str());
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &old_int_);
  sigaction(SIGTERM, &sa, &old_term_);
}

InterruptGuard::~InterruptGuard() {
  sigaction(SIGINT, &old_int_, nullptr);
  sigaction(SIGTERM, &old_term_, nullptr);
  g_cancel = nullptr;
}

int InterruptGuard::received() { return g_received; }

}  // namespace vkq::cli
