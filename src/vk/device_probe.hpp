// What a physical device can do, probed once: the facts kernels are tuned from
// (never the vendor name alone — DESIGN.md, Vulkan conventions).
#pragma once

#include <vulkan/vulkan.h>

#include <cstdint>
#include <string>
#include <vector>

namespace vkq::vk {

enum class DeviceKind { Discrete, Integrated, Virtual, Cpu, Other };

struct DeviceProbe {
  VkPhysicalDevice physical = VK_NULL_HANDLE;
  uint32_t index = 0;
  std::string name;
  std::string driver_name;
  std::string driver_info;
  DeviceKind kind = DeviceKind::Other;
  uint32_t api_version = 0;
  uint32_t vendor_id = 0, device_id = 0;
  uint8_t pipeline_cache_uuid[VK_UUID_SIZE] = {};

  uint32_t subgroup_size = 0, min_subgroup_size = 0, max_subgroup_size = 0;
  bool subgroup_size_control = false, compute_full_subgroups = false;
  bool subgroup_arithmetic = false;
  uint32_t max_shared_memory = 0;
  uint32_t max_workgroup_invocations = 0;
  uint32_t max_workgroup_size[3] = {};
  uint32_t max_workgroup_count[3] = {};
  uint32_t max_push_constants = 0;
  uint32_t max_storage_buffer_range = 0;
  uint64_t max_buffer_size = 0;  // maintenance4 when present, else storage range
  bool shader_fp16 = false, shader_int8 = false, shader_fp64 = false;
  bool storage_16bit = false;
  bool cooperative_matrix = false;
  bool memory_budget_ext = false;
  bool timestamps = false;
  float timestamp_period_ns = 1.0f;
  uint32_t compute_queue_family = UINT32_MAX;

  struct Heap {
    uint64_t size = 0;
    uint64_t budget = 0;  // 0 when VK_EXT_memory_budget is absent
    uint64_t usage = 0;
    bool device_local = false;
  };
  std::vector<Heap> heaps;

  uint64_t device_local_bytes() const;
  uint64_t device_local_budget() const;
  const char* kind_name() const;
  std::string api_version_string() const;
};

// Probes every physical device of `instance` (in enumeration order).
std::vector<DeviceProbe> probe_devices(VkInstance instance);

// Ranks discrete > integrated > virtual > CPU > other; ties keep enumeration order.
int device_kind_rank(DeviceKind k);

// Picks a device by selector: "" (best by kind), a decimal index, or a case-insensitive
// substring of the name. Throws vkq::Error listing the devices when nothing matches.
size_t choose_device(const std::vector<DeviceProbe>& devices, const std::string& selector);

}  // namespace vkq::vk
