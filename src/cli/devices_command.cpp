#include <cstdio>
#include <string>

#include "cli/commands.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::cli {

bool& json_events() {
  static bool on = false;
  return on;
}

int& exit_code() {
  static int code = 0;
  return code;
}

namespace {

std::string mib(uint64_t bytes) { return std::to_string(bytes >> 20) + " MiB"; }

void print_table(const std::vector<DeviceSummary>& devices) {
  std::printf("%-3s %-1s %-34s %-10s %-9s %-8s %-6s %-16s %-10s %s\n", "#", "", "device", "type", "subgroup",
              "shared", "fp16", "int8/fp64/coop", "memory", "budget");
  for (const auto& d : devices) {
    const std::string sg = d.min_subgroup_size == d.max_subgroup_size
                               ? std::to_string(d.subgroup_size)
                               : std::to_string(d.min_subgroup_size) + "-" + std::to_string(d.max_subgroup_size);
    const std::string feats = std::string(d.int8 ? "y" : "n") + "/" + (d.fp64 ? "y" : "n") + "/" +
                              (d.cooperative_matrix ? "y" : "n");
    std::printf("%-3u %-1s %-34.34s %-10s %-9s %-8s %-6s %-16s %-10s %s\n", d.index, d.chosen ? "*" : "",
                d.name.c_str(), d.type.c_str(), sg.c_str(), (std::to_string(d.max_shared_memory / 1024) + " KiB").c_str(),
                d.fp16 ? "yes" : "no", feats.c_str(), mib(d.device_local_bytes).c_str(),
                d.budget_bytes ? mib(d.budget_bytes).c_str() : "n/a");
  }
  std::printf("* = the device a run uses (--device INDEX|NAME or VKQ_DEVICE to choose another)\n");
}

}  // namespace

void add_devices_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("devices", "List Vulkan devices with their probed features");
  static bool json = false;
  static std::string device;
  cmd->add_flag("--json", json, "Print JSON instead of a table");
  cmd->add_option("--device", device, "Mark the device this selector picks (index or name substring)");
  cmd->callback([] {
    const auto devices = list_devices(device);
    if (json)
      std::printf("%s\n", devices_json(devices).c_str());
    else
      print_table(devices);
    exit_code() = devices.empty() ? 1 : 0;
  });
}

}  // namespace vkq::cli
