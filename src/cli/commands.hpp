// Registration of each subcommand (one file per command) and the process exit code.
#pragma once

#include <CLI/CLI.hpp>

namespace vkq::cli {

void add_devices_command(CLI::App& app);
void add_selftest_command(CLI::App& app);
void add_perplexity_command(CLI::App& app);
void add_quantize_command(CLI::App& app);

// Set by a command's callback; main() returns it.
int& exit_code();

}  // namespace vkq::cli
