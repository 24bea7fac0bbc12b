// Public device listing (vkquant.hpp): probes without creating a logical device.
#include <nlohmann/json.hpp>

#include "vk/context.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq {

std::vector<DeviceSummary> list_devices(const std::string& selector) {
  const auto probes = vk::Context::list_devices();
  std::vector<DeviceSummary> out;
  size_t chosen = SIZE_MAX;
  try {
    chosen = vk::choose_device(probes, vk::effective_device_selector(selector));
  } catch (const Error&) {
    if (!selector.empty()) throw;  // an explicit selector that matches nothing is the user's error
  }
  for (size_t i = 0; i < probes.size(); ++i) {
    const auto& p = probes[i];
    DeviceSummary d;
    d.index = p.index;
    d.name = p.name;
    d.type = p.kind_name();
    d.driver = p.driver_name + (p.driver_info.empty() ? "" : " " + p.driver_info);
    d.api_version = p.api_version_string();
    d.subgroup_size = p.subgroup_size;
    d.min_subgroup_size = p.min_subgroup_size;
    d.max_subgroup_size = p.max_subgroup_size;
    d.subgroup_size_control = p.subgroup_size_control;
    d.compute_full_subgroups = p.compute_full_subgroups;
    d.max_shared_memory = p.max_shared_memory;
    d.fp16 = p.shader_fp16;
    d.int8 = p.shader_int8;
    d.fp64 = p.shader_fp64;
    d.cooperative_matrix = p.cooperative_matrix;
    d.device_local_bytes = p.device_local_bytes();
    d.budget_bytes = p.device_local_budget();
    d.max_storage_buffer_range = p.max_storage_buffer_range;
    d.max_buffer_size = p.max_buffer_size;
    for (int k = 0; k < 3; ++k) d.max_workgroup_count[k] = p.max_workgroup_count[k];
    d.chosen = i == chosen;
    out.push_back(d);
  }
  return out;
}

std::string devices_json(const std::vector<DeviceSummary>& devices) {
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& d : devices) {
    arr.push_back({{"index", d.index},
                   {"name", d.name},
                   {"type", d.type},
                   {"driver", d.driver},
                   {"api_version", d.api_version},
                   {"subgroup_size", d.subgroup_size},
                   {"min_subgroup_size", d.min_subgroup_size},
                   {"max_subgroup_size", d.max_subgroup_size},
                   {"subgroup_size_control", d.subgroup_size_control},
                   {"compute_full_subgroups", d.compute_full_subgroups},
                   {"max_shared_memory", d.max_shared_memory},
                   {"fp16", d.fp16},
                   {"int8", d.int8},
                   {"fp64", d.fp64},
                   {"cooperative_matrix", d.cooperative_matrix},
                   {"device_local_bytes", d.device_local_bytes},
                   {"budget_bytes", d.budget_bytes},
                   {"max_storage_buffer_range", d.max_storage_buffer_range},
                   {"max_buffer_size", d.max_buffer_size},
                   {"max_workgroup_count", {d.max_workgroup_count[0], d.max_workgroup_count[1], d.max_workgroup_count[2]}},
                   {"chosen", d.chosen}});
  }
  return nlohmann::json{{"devices", arr}}.dump(2);
}

}  // namespace vkq
