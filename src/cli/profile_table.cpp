#include "cli/profile_table.hpp"

#include <cstdio>

namespace vkq::cli {

void print_profile_table(const std::vector<KernelTime>& rows, double wall_seconds, bool asked) {
  if (!asked) return;
  if (rows.empty()) {
    std::printf("profile: the device's compute queue has no timestamps; nothing was timed\n");
    return;
  }
  double total = 0;
  for (const auto& r : rows) total += r.device_seconds;
  std::printf("\n%-32s %10s %12s %12s %7s\n", "kernel (device time)", "dispatches", "seconds", "mean ms", "share");
  for (const auto& r : rows)
    std::printf("%-32s %10llu %12.3f %12.4f %6.1f%%\n", r.kernel.c_str(), (unsigned long long)r.dispatches,
                r.device_seconds, r.dispatches ? 1e3 * r.device_seconds / double(r.dispatches) : 0.0,
                total > 0 ? 100.0 * r.device_seconds / total : 0.0);
  std::printf("device busy %.3f s of %.3f s wall (%.1f%%); the rest is host work (parsing, searches, packing) "
              "and submission\n",
              total, wall_seconds, wall_seconds > 0 ? 100.0 * total / wall_seconds : 0.0);
}

nlohmann::json profile_json(const std::vector<KernelTime>& rows) {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& r : rows)
    a.push_back({{"kernel", r.kernel}, {"dispatches", r.dispatches}, {"device_seconds", r.device_seconds}});
  return a;
}

}  // namespace vkq::cli
