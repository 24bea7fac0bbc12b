#include <nlohmann/json.hpp>

#include <cstdio>
#include <string>

#include "cli/commands.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::cli {

void add_selftest_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("selftest",
                                 "Run every kernel against its float64 reference on the chosen device; "
                                 "exit status 1 if any fails");
  static SelftestOptions opt;
  static bool json = false;
  cmd->add_option("--device", opt.device, "Device index or name substring (default: best; VKQ_DEVICE)");
  cmd->add_flag("--validate", opt.validation, "Enable the Khronos validation layer; any message fails the run");
  cmd->add_option("--seed", opt.seed, "Random seed for the inputs (default: fresh, printed)");
  cmd->add_flag("--json", json, "Print JSON instead of a table");
  cmd->callback([] {
    const SelftestReport r = run_selftest(opt);
    if (json) {
      nlohmann::json rows = nlohmann::json::array();
      for (const auto& row : r.rows)
        rows.push_back({{"kernel", row.kernel}, {"shape", row.shape}, {"metric", row.metric},
                        {"error", row.max_error}, {"tolerance", row.tolerance}, {"ms", row.millis},
                        {"passed", row.passed}, {"message", row.message}});
      std::printf("%s\n", nlohmann::json{{"device", r.device}, {"seed", r.seed}, {"rows", rows},
                                         {"validation_messages", r.validation_messages},
                                         {"passed", r.all_passed()}}
                              .dump(2)
                              .c_str());
    } else {
      std::printf("device: %s   seed: %llu\n", r.device.c_str(), (unsigned long long)r.seed);
      std::printf("%-18s %-32s %-12s %-10s %-9s %s\n", "kernel", "shape", "error", "tolerance", "GPU ms", "result");
      for (const auto& row : r.rows)
        std::printf("%-18s %-32s %-12.3g %-10.1g %-9.3f %s%s%s\n", row.kernel.c_str(), row.shape.c_str(), row.max_error,
                    row.tolerance, row.millis, row.passed ? "pass" : "FAIL", row.message.empty() ? "" : ": ",
                    row.message.c_str());
      if (r.validation_messages)
        std::printf("validation layer: %llu message(s) — FAIL\n", (unsigned long long)r.validation_messages);
      std::printf("%s\n", r.all_passed() ? "all kernels passed" : "SELFTEST FAILED");
    }
    exit_code() = r.all_passed() ? 0 : 1;
  });
}

}  // namespace vkq::cli
