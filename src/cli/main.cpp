// vkquant command line: parses options into the public API's structures and prints results.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <iostream>
#include <new>
#include <string>

#include "cli/commands.hpp"
#include "cli/interrupt_guard.hpp"
#include "vkquant/vkquant.hpp"

namespace {

// With --json, how the run ended is also an event on stdout (the text stays on stderr).
int report_end(const char* event, const std::string& message, int code) {
  if (vkq::cli::json_events())
    std::printf("%s\n", nlohmann::json{{"event", event}, {"schema", vkq::cli::kJsonEventsSchema}, {"message", message},
                                       {"exit_code", code}}
                            .dump()
                            .c_str());
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"vkquant — calibrated LLM weight quantization on any Vulkan GPU"};
  app.set_version_flag("--version", vkq::version());
  app.require_subcommand(1);
  app.footer(
      "Examples:\n"
      "  vkquant quantize model-f16.gguf --calib text.txt -t Q4_0 -o model-q4_0.gguf\n"
      "  vkquant quantize ./Qwen2.5-0.5B/ --calib text.txt -t Q4_0 -o qwen-q4_0.gguf   (a Hugging Face folder)\n"
      "  vkquant convert ./Qwen2.5-0.5B/ -o qwen-bf16.gguf\n"
      "  vkquant devices                 list Vulkan devices and their probed features\n"
      "  vkquant selftest                check every kernel against its float64 reference\n"
      "  vkquant perplexity model.gguf --text wiki.test.raw --ctx 512\n"
      "Device choice: --device INDEX|NAME, or the VKQ_DEVICE environment variable.");
  vkq::cli::add_quantize_command(app);
  vkq::cli::add_perplexity_command(app);
  vkq::cli::add_convert_command(app);
  vkq::cli::add_devices_command(app);
  vkq::cli::add_selftest_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const vkq::Cancelled& e) {
    std::fprintf(stderr, "vkquant: %s\n", e.what());
    const int sig = vkq::cli::InterruptGuard::received();  // SIGTERM → 143, Ctrl-C (or none) → 130
    return report_end("cancelled", e.what(), 128 + (sig ? sig : SIGINT));
  } catch (const vkq::Error& e) {
    std::fprintf(stderr, "vkquant: error: %s\n", e.what());
    return report_end("error", e.what(), 1);
  } catch (const std::bad_alloc&) {
    const std::string m = "out of host memory (RAM): close other programs, or lower --chunk-tokens / --calib-seqs";
    std::fprintf(stderr, "vkquant: error: %s\n", m.c_str());
    return report_end("error", m, 1);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vkquant: unexpected error: %s\n", e.what());
    return report_end("error", std::string("unexpected error: ") + e.what(), 1);
  }
  return vkq::cli::exit_code();
}
