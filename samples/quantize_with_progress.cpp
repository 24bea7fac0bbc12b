// Sample: quantize a model through the C++ API with the program's own progress line (percentage,
// stage and ETA) and Ctrl-C cancellation, as an application embedding vkquant would.
//   vkquant-sample-quantize MODEL.gguf CALIB.txt OUT.gguf [TYPE=Q4_0] [CALIB_SEQS=32]
#include <vkquant/vkquant.hpp>

#include <csignal>
#include <cstdio>
#include <string>

namespace {

vkq::CancelFlag g_cancel{false};  // lock-free atomic: safe to set from a signal handler

extern "C" void on_interrupt(int) { g_cancel = true; }

std::string clock_text(double seconds) {
  if (seconds < 0) return "--:--";
  const long s = long(seconds + 0.5);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%02ld:%02ld", s / 60, s % 60);
  return buf;
}

void print_progress(const vkq::ProgressEvent& e) {
  if (!e.message.empty()) std::fprintf(stderr, "\r\033[K%s\n", e.message.c_str());
  std::fprintf(stderr, "\r\033[K%5.1f%%  %-10s %-28.28s  elapsed %s  ETA %s", 100.0 * e.fraction, e.stage.c_str(),
               e.item.c_str(), clock_text(e.elapsed_seconds).c_str(), clock_text(e.eta_seconds).c_str());
  std::fflush(stderr);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s MODEL.gguf CALIB.txt OUT.gguf [TYPE=Q4_0] [CALIB_SEQS=32]\n", argv[0]);
    return 2;
  }
  vkq::QuantizeOptions options;
  options.model_path = argv[1];
  options.calib_path = argv[2];
  options.output_path = argv[3];
  if (argc > 4) options.type = argv[4];
  std::signal(SIGINT, on_interrupt);
  try {
    options.calib_seqs = argc > 5 ? uint32_t(std::stoul(argv[5])) : 32;
    const vkq::QuantizeResult r = vkq::quantize(options, print_progress, &g_cancel);
    std::fprintf(stderr, "\n");
    std::printf("wrote %s (%zu tensors) in %.1f s on %s\n", r.output_path.c_str(), r.tensors.size(), r.seconds,
                r.device.c_str());
    return 0;
  } catch (const vkq::Cancelled& e) {
    std::fprintf(stderr, "\n%s\n", e.what());
    return 130;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "\nerror: %s\n", e.what());
    return 1;
  }
}
