// Registration of each subcommand (one file per command) and the process exit code.
#pragma once

#include <CLI/CLI.hpp>

namespace vkq::cli {

void add_devices_command(CLI::App& app);
void add_selftest_command(CLI::App& app);
void add_perplexity_command(CLI::App& app);
void add_quantize_command(CLI::App& app);
void add_convert_command(CLI::App& app);

// Set by a command's callback; main() returns it.
int& exit_code();

// Version of the `--json` event lines (docs/json-events.md): fields are only ever added within one
// version; a removal or change of meaning bumps it.
constexpr int kJsonEventsSchema = 1;

// Set by a command run with --json: main() then also reports an error or a cancellation as a JSON
// event on stdout, so a program reading the stream sees how it ended.
bool& json_events();

}  // namespace vkq::cli
