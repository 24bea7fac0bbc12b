// vkquant command line: parses options into the public API's structures and prints results.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>
#include <new>

#include "cli/commands.hpp"
#include "cli/interrupt_guard.hpp"
#include "vkquant/vkquant.hpp"

int main(int argc, char** argv) {
  CLI::App app{"vkquant — calibrated LLM weight quantization on any Vulkan GPU"};
  app.set_version_flag("--version", vkq::version());
  app.require_subcommand(1);
  app.footer(
      "Examples:\n"
      "  vkquant quantize model-f16.gguf --calib text.txt -t Q4_0 -o model-q4_0.gguf\n"
      "  vkquant devices                 list Vulkan devices and their probed features\n"
      "  vkquant selftest                check every kernel against its float64 reference\n"
      "  vkquant perplexity model.gguf --text wiki.test.raw --ctx 512\n"
      "Device choice: --device INDEX|NAME, or the VKQ_DEVICE environment variable.");
  vkq::cli::add_quantize_command(app);
  vkq::cli::add_perplexity_command(app);
  vkq::cli::add_devices_command(app);
  vkq::cli::add_selftest_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const vkq::Cancelled& e) {
    std::fprintf(stderr, "vkquant: %s\n", e.what());
    const int sig = vkq::cli::InterruptGuard::received();  // SIGTERM → 143, Ctrl-C (or none) → 130
    return 128 + (sig ? sig : SIGINT);
  } catch (const vkq::Error& e) {
    std::fprintf(stderr, "vkquant: error: %s\n", e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "vkquant: error: out of host memory (RAM): close other programs, or lower --chunk-tokens / "
                         "--calib-seqs\n");
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vkquant: unexpected error: %s\n", e.what());
    return 1;
  }
  return vkq::cli::exit_code();
}
