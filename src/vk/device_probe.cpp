#include "vk/device_probe.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>

#include "vk/error.hpp"

namespace vkq::vk {

namespace {

bool has_extension(const std::vector<VkExtensionProperties>& exts, const char* name) {
  for (const auto& e : exts)
    if (std::strcmp(e.extensionName, name) == 0) return true;
  return false;
}

DeviceKind kind_of(VkPhysicalDeviceType t) {
  switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return DeviceKind::Discrete;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return DeviceKind::Integrated;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return DeviceKind::Virtual;
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return DeviceKind::Cpu;
    default: return DeviceKind::Other;
  }
}

DeviceProbe probe_one(VkPhysicalDevice pd, uint32_t index) {
  DeviceProbe p;
  p.physical = pd;
  p.index = index;

  uint32_t n_ext = 0;
  vkEnumerateDeviceExtensionProperties(pd, nullptr, &n_ext, nullptr);
  std::vector<VkExtensionProperties> exts(n_ext);
  vkEnumerateDeviceExtensionProperties(pd, nullptr, &n_ext, exts.data());
  p.memory_budget_ext = has_extension(exts, VK_EXT_MEMORY_BUDGET_EXTENSION_NAME);
  p.cooperative_matrix = has_extension(exts, "VK_KHR_cooperative_matrix") ||
                         has_extension(exts, "VK_NV_cooperative_matrix");
  const bool has_maintenance4 = has_extension(exts, "VK_KHR_maintenance4");

  VkPhysicalDeviceSubgroupSizeControlProperties sg_ctrl{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_PROPERTIES};
  VkPhysicalDeviceSubgroupProperties sg{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES, &sg_ctrl};
  VkPhysicalDeviceDriverProperties drv{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES, &sg};
  VkPhysicalDeviceMaintenance4Properties m4{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_4_PROPERTIES, &drv};
  VkPhysicalDeviceProperties2 props{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, has_maintenance4 ? (void*)&m4 : (void*)&drv};
  vkGetPhysicalDeviceProperties2(pd, &props);
  const auto& lim = props.properties.limits;
  p.name = props.properties.deviceName;
  p.kind = kind_of(props.properties.deviceType);
  p.api_version = props.properties.apiVersion;
  p.vendor_id = props.properties.vendorID;
  p.device_id = props.properties.deviceID;
  std::memcpy(p.pipeline_cache_uuid, props.properties.pipelineCacheUUID, VK_UUID_SIZE);
  p.driver_name = drv.driverName;
  p.driver_info = drv.driverInfo;
  p.subgroup_size = sg.subgroupSize;
  p.subgroup_arithmetic = (sg.supportedOperations & VK_SUBGROUP_FEATURE_ARITHMETIC_BIT) &&
                          (sg.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT);
  p.min_subgroup_size = sg_ctrl.minSubgroupSize ? sg_ctrl.minSubgroupSize : sg.subgroupSize;
  p.max_subgroup_size = sg_ctrl.maxSubgroupSize ? sg_ctrl.maxSubgroupSize : sg.subgroupSize;
  p.max_shared_memory = lim.maxComputeSharedMemorySize;
  p.max_workgroup_invocations = lim.maxComputeWorkGroupInvocations;
  for (int i = 0; i < 3; ++i) {
    p.max_workgroup_size[i] = lim.maxComputeWorkGroupSize[i];
    p.max_workgroup_count[i] = lim.maxComputeWorkGroupCount[i];
  }
  p.max_push_constants = lim.maxPushConstantsSize;
  p.max_storage_buffer_range = lim.maxStorageBufferRange;
  // VKQ_MAX_STORAGE_BUFFER_RANGE (tests): pretend the device binds less, to exercise the split paths.
  if (const char* v = std::getenv("VKQ_MAX_STORAGE_BUFFER_RANGE")) {
    const unsigned long long forced = std::strtoull(v, nullptr, 10);
    if (forced > 0 && forced < p.max_storage_buffer_range) p.max_storage_buffer_range = uint32_t(forced);
  }
  p.max_buffer_size = has_maintenance4 ? m4.maxBufferSize : lim.maxStorageBufferRange;
  p.timestamps = lim.timestampComputeAndGraphics;
  p.timestamp_period_ns = lim.timestampPeriod;

  VkPhysicalDeviceSubgroupSizeControlFeatures sg_feat{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_FEATURES};
  VkPhysicalDeviceVulkan11Features f11{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES, &sg_feat};
  VkPhysicalDeviceVulkan12Features f12{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES, &f11};
  VkPhysicalDeviceFeatures2 feats{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, &f12};
  vkGetPhysicalDeviceFeatures2(pd, &feats);
  p.shader_fp64 = feats.features.shaderFloat64;
  p.shader_fp16 = f12.shaderFloat16;
  p.shader_int8 = f12.shaderInt8;
  p.storage_16bit = f11.storageBuffer16BitAccess;
  p.subgroup_size_control = sg_feat.subgroupSizeControl;
  p.compute_full_subgroups = sg_feat.computeFullSubgroups;

  VkPhysicalDeviceMemoryBudgetPropertiesEXT budget{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MEMORY_BUDGET_PROPERTIES_EXT};
  VkPhysicalDeviceMemoryProperties2 mem{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MEMORY_PROPERTIES_2,
                                        p.memory_budget_ext ? &budget : nullptr};
  vkGetPhysicalDeviceMemoryProperties2(pd, &mem);
  for (uint32_t h = 0; h < mem.memoryProperties.memoryHeapCount; ++h) {
    DeviceProbe::Heap heap;
    heap.size = mem.memoryProperties.memoryHeaps[h].size;
    heap.device_local = mem.memoryProperties.memoryHeaps[h].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT;
    if (p.memory_budget_ext) {
      heap.budget = budget.heapBudget[h];
      heap.usage = budget.heapUsage[h];
    }
    p.heaps.push_back(heap);
  }

  uint32_t n_q = 0;
  vkGetPhysicalDeviceQueueFamilyProperties(pd, &n_q, nullptr);
  std::vector<VkQueueFamilyProperties> qs(n_q);
  vkGetPhysicalDeviceQueueFamilyProperties(pd, &n_q, qs.data());
  // Prefer a compute-only family (async compute on discrete GPUs), else any with compute.
  for (uint32_t i = 0; i < n_q; ++i)
    if ((qs[i].queueFlags & VK_QUEUE_COMPUTE_BIT) && !(qs[i].queueFlags & VK_QUEUE_GRAPHICS_BIT) &&
        qs[i].timestampValidBits) {
      p.compute_queue_family = i;
      break;
    }
  if (p.compute_queue_family == UINT32_MAX)
    for (uint32_t i = 0; i < n_q; ++i)
      if (qs[i].queueFlags & VK_QUEUE_COMPUTE_BIT) {
        p.compute_queue_family = i;
        break;
      }
  if (p.compute_queue_family != UINT32_MAX && qs[p.compute_queue_family].timestampValidBits == 0)
    p.timestamps = false;
  return p;
}

std::string lower(std::string s) {
  for (auto& c : s) c = char(std::tolower((unsigned char)c));
  return s;
}

}  // namespace

uint64_t DeviceProbe::device_local_bytes() const {
  uint64_t b = 0;
  for (const auto& h : heaps)
    if (h.device_local) b += h.size;
  return b;
}

uint64_t DeviceProbe::device_local_budget() const {
  uint64_t b = 0;
  for (const auto& h : heaps)
    if (h.device_local) b += h.budget;
  return b;
}

const char* DeviceProbe::kind_name() const {
  switch (kind) {
    case DeviceKind::Discrete: return "discrete";
    case DeviceKind::Integrated: return "integrated";
    case DeviceKind::Virtual: return "virtual";
    case DeviceKind::Cpu: return "cpu";
    default: return "other";
  }
}

std::string DeviceProbe::api_version_string() const {
  return std::to_string(VK_API_VERSION_MAJOR(api_version)) + "." + std::to_string(VK_API_VERSION_MINOR(api_version)) +
         "." + std::to_string(VK_API_VERSION_PATCH(api_version));
}

std::vector<DeviceProbe> probe_devices(VkInstance instance) {
  uint32_t n = 0;
  check(vkEnumeratePhysicalDevices(instance, &n, nullptr), "vkEnumeratePhysicalDevices");
  std::vector<VkPhysicalDevice> pds(n);
  check(vkEnumeratePhysicalDevices(instance, &n, pds.data()), "vkEnumeratePhysicalDevices");
  std::vector<DeviceProbe> out;
  for (uint32_t i = 0; i < n; ++i) out.push_back(probe_one(pds[i], i));
  return out;
}

int device_kind_rank(DeviceKind k) {
  switch (k) {
    case DeviceKind::Discrete: return 0;
    case DeviceKind::Integrated: return 1;
    case DeviceKind::Virtual: return 2;
    case DeviceKind::Cpu: return 3;
    default: return 4;
  }
}

size_t choose_device(const std::vector<DeviceProbe>& devices, const std::string& selector) {
  std::vector<size_t> usable;
  for (size_t i = 0; i < devices.size(); ++i)
    if (devices[i].compute_queue_family != UINT32_MAX && devices[i].api_version >= VK_API_VERSION_1_2)
      usable.push_back(i);
  auto listing = [&] {
    std::string s;
    for (const auto& d : devices) s += "\n  " + std::to_string(d.index) + ": " + d.name + " (" + d.kind_name() + ")";
    return s.empty() ? std::string("\n  (none: install a Vulkan driver, e.g. mesa-vulkan-drivers)") : s;
  };
  if (usable.empty()) throw Error("no Vulkan 1.2 device with a compute queue was found; devices:" + listing());
  if (selector.empty()) {
    return *std::min_element(usable.begin(), usable.end(), [&](size_t a, size_t b) {
      return device_kind_rank(devices[a].kind) < device_kind_rank(devices[b].kind);
    });
  }
  const bool numeric = std::all_of(selector.begin(), selector.end(), [](char c) { return std::isdigit((unsigned char)c); });
  if (numeric) {
    const unsigned long idx = std::stoul(selector);
    for (size_t i : usable)
      if (devices[i].index == idx) return i;
    throw Error("--device " + selector + ": no usable device with that index; devices:" + listing());
  }
  const std::string needle = lower(selector);
  for (size_t i : usable)
    if (lower(devices[i].name).find(needle) != std::string::npos) return i;
  throw Error("--device '" + selector + "': no usable device name contains it; devices:" + listing());
}

}  // namespace vkq::vk
