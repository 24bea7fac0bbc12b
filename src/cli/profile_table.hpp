// `--profile`: the per-kernel device time of a run as a table (text) or a JSON array (--json).
#pragma once

#include <nlohmann/json.hpp>

#include <vector>

#include "vkquant/vkquant.hpp"

namespace vkq::cli {

// One line per kernel (dispatches, device seconds, mean, share of the device total), then the device
// total against the run's wall time: what remains is host work and waiting.
void print_profile_table(const std::vector<KernelTime>& rows, double wall_seconds, bool asked);

nlohmann::json profile_json(const std::vector<KernelTime>& rows);

}  // namespace vkq::cli
