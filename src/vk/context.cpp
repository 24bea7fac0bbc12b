#include "vk/context.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "vk/buffer.hpp"
#include "vk/error.hpp"
#include "vk/pipeline_cache.hpp"

namespace vkq::vk {

namespace {

constexpr const char* kValidationLayer = "VK_LAYER_KHRONOS_validation";

bool layer_available(const char* name) {
  uint32_t n = 0;
  vkEnumerateInstanceLayerProperties(&n, nullptr);
  std::vector<VkLayerProperties> layers(n);
  vkEnumerateInstanceLayerProperties(&n, layers.data());
  for (const auto& l : layers)
    if (std::strcmp(l.layerName, name) == 0) return true;
  return false;
}

bool instance_extension_available(const char* name) {
  uint32_t n = 0;
  vkEnumerateInstanceExtensionProperties(nullptr, &n, nullptr);
  std::vector<VkExtensionProperties> exts(n);
  vkEnumerateInstanceExtensionProperties(nullptr, &n, exts.data());
  for (const auto& e : exts)
    if (std::strcmp(e.extensionName, name) == 0) return true;
  return false;
}

VKAPI_ATTR VkBool32 VKAPI_CALL on_validation_message(VkDebugUtilsMessageSeverityFlagBitsEXT,
                                                     VkDebugUtilsMessageTypeFlagsEXT,
                                                     const VkDebugUtilsMessengerCallbackDataEXT* data, void* user) {
  static_cast<Context*>(user)->record_validation_message(data && data->pMessage ? data->pMessage : "(no text)");
  return VK_FALSE;
}

VkDebugUtilsMessengerCreateInfoEXT messenger_info(void* user) {
  VkDebugUtilsMessengerCreateInfoEXT info{VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT};
  info.messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
  info.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                     VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT;
  info.pfnUserCallback = on_validation_message;
  info.pUserData = user;
  return info;
}

VkInstance make_instance(bool want_validation, bool* validation_enabled, void* messenger_user) {
  VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
  app.pApplicationName = "vkquant";
  app.pEngineName = "vkquant";
  app.apiVersion = VK_API_VERSION_1_2;
  std::vector<const char*> layers, exts;
  const bool validation = want_validation && layer_available(kValidationLayer) &&
                          instance_extension_available(VK_EXT_DEBUG_UTILS_EXTENSION_NAME);
  if (validation) {
    layers.push_back(kValidationLayer);
    exts.push_back(VK_EXT_DEBUG_UTILS_EXTENSION_NAME);
  }
  VkInstanceCreateInfo info{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
  info.pApplicationInfo = &app;
  info.enabledLayerCount = uint32_t(layers.size());
  info.ppEnabledLayerNames = layers.data();
  info.enabledExtensionCount = uint32_t(exts.size());
  info.ppEnabledExtensionNames = exts.data();
  // Catch messages from instance creation itself too.
  VkDebugUtilsMessengerCreateInfoEXT dbg = messenger_info(messenger_user);
  if (validation && messenger_user) info.pNext = &dbg;
  VkInstance instance = VK_NULL_HANDLE;
  check(vkCreateInstance(&info, nullptr, &instance), "vkCreateInstance");
  if (validation_enabled) *validation_enabled = validation;
  return instance;
}

}  // namespace

VkInstance create_instance(bool validation, bool* validation_enabled) {
  return make_instance(validation, validation_enabled, nullptr);
}

std::string effective_device_selector(const std::string& option) {
  if (!option.empty()) return option;
  if (const char* env = std::getenv("VKQ_DEVICE")) return env;
  return "";
}

std::vector<DeviceProbe> Context::list_devices() {
  VkInstance inst = create_instance(false, nullptr);
  std::vector<DeviceProbe> out;
  try {
    out = probe_devices(inst);
  } catch (...) {
    vkDestroyInstance(inst, nullptr);
    throw;
  }
  vkDestroyInstance(inst, nullptr);
  for (auto& d : out) d.physical = VK_NULL_HANDLE;  // the instance is gone
  return out;
}

Context::Context(const ContextOptions& options) {
  instance_ = make_instance(options.validation, &validation_enabled_, this);
  try {
    if (validation_enabled_) {
      auto create = reinterpret_cast<PFN_vkCreateDebugUtilsMessengerEXT>(
          vkGetInstanceProcAddr(instance_, "vkCreateDebugUtilsMessengerEXT"));
      VkDebugUtilsMessengerCreateInfoEXT info = messenger_info(this);
      if (create) check(create(instance_, &info, nullptr, &messenger_), "vkCreateDebugUtilsMessengerEXT");
    }
    const auto devices = probe_devices(instance_);
    probe_ = devices[choose_device(devices, effective_device_selector(options.device))];
    vkGetPhysicalDeviceMemoryProperties(probe_.physical, &memory_);

    // Enable only what the device has; kernels check the probe before using optional features.
    VkPhysicalDeviceSubgroupSizeControlFeatures sg{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_FEATURES};
    sg.subgroupSizeControl = probe_.subgroup_size_control;
    sg.computeFullSubgroups = probe_.compute_full_subgroups;
    VkPhysicalDeviceVulkan11Features f11{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES, &sg};
    f11.storageBuffer16BitAccess = probe_.storage_16bit;
    VkPhysicalDeviceVulkan12Features f12{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES, &f11};
    f12.shaderFloat16 = probe_.shader_fp16;
    f12.shaderInt8 = probe_.shader_int8;
    VkPhysicalDeviceFeatures2 feats{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, &f12};
    feats.features.shaderFloat64 = probe_.shader_fp64;
    feats.features.shaderInt64 = VK_FALSE;

    std::vector<const char*> exts;
    if (probe_.memory_budget_ext) exts.push_back(VK_EXT_MEMORY_BUDGET_EXTENSION_NAME);
    if (probe_.subgroup_size_control && VK_API_VERSION_MINOR(probe_.api_version) < 3)
      exts.push_back(VK_EXT_SUBGROUP_SIZE_CONTROL_EXTENSION_NAME);

    const float priority = 1.0f;
    VkDeviceQueueCreateInfo qinfo{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
    qinfo.queueFamilyIndex = probe_.compute_queue_family;
    qinfo.queueCount = 1;
    qinfo.pQueuePriorities = &priority;
    VkDeviceCreateInfo dinfo{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO, &feats};
    dinfo.queueCreateInfoCount = 1;
    dinfo.pQueueCreateInfos = &qinfo;
    dinfo.enabledExtensionCount = uint32_t(exts.size());
    dinfo.ppEnabledExtensionNames = exts.data();
    check(vkCreateDevice(probe_.physical, &dinfo, nullptr, &device_), "vkCreateDevice(" + probe_.name + ")");
    vkGetDeviceQueue(device_, probe_.compute_queue_family, 0, &queue_);
    cache_ = std::make_unique<PipelineCache>(device_, probe_, options.persist_pipeline_cache);
    if (const char* v = std::getenv("VKQ_FORCE_STAGING")) force_staging_ = std::strcmp(v, "0") != 0;
    if (const char* v = std::getenv("VKQ_INJECT_OOM")) {
      const std::string spec = v;
      const size_t colon = spec.rfind(':');
      inject_oom_label_ = spec.substr(0, colon);
      inject_oom_left_ = colon == std::string::npos ? 1 : std::max(1, std::atoi(spec.c_str() + colon + 1));
    }
    if (options.profile && probe_.timestamps) profile_ = std::make_unique<KernelProfile>();
  } catch (...) {
    release();
    throw;
  }
}

Context::~Context() { release(); }

void Context::release() {
  if (device_) vkDeviceWaitIdle(device_);
  pipelines_.clear();  // before the device they belong to
  staging_.reset();
  cache_.reset();
  if (device_) vkDestroyDevice(device_, nullptr);
  device_ = VK_NULL_HANDLE;
  if (messenger_) {
    auto destroy = reinterpret_cast<PFN_vkDestroyDebugUtilsMessengerEXT>(
        vkGetInstanceProcAddr(instance_, "vkDestroyDebugUtilsMessengerEXT"));
    if (destroy) destroy(instance_, messenger_, nullptr);
    messenger_ = VK_NULL_HANDLE;
  }
  if (instance_) vkDestroyInstance(instance_, nullptr);
  instance_ = VK_NULL_HANDLE;
}

Buffer& Context::staging(uint64_t bytes) {
  bytes = std::min(bytes, kStagingBytes);
  if (!staging_ || staging_->size() < bytes)
    staging_ = std::make_unique<Buffer>(*this, std::max<uint64_t>(bytes, 1 << 20), MemoryUse::Staging, "staging");
  return *staging_;
}

VkPipelineCache Context::pipeline_cache() const { return cache_ ? cache_->handle() : VK_NULL_HANDLE; }

std::shared_ptr<const CompiledPipeline> Context::compiled_pipeline(
    const std::string& key, const std::function<std::shared_ptr<const CompiledPipeline>()>& compile) {
  std::lock_guard<std::mutex> lock(pipelines_mutex_);
  if (auto it = pipelines_.find(key); it != pipelines_.end()) return it->second;
  const auto t0 = std::chrono::steady_clock::now();
  auto compiled = compile();  // a failed compile throws and leaves nothing behind
  compile_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  pipelines_.emplace(key, compiled);
  return compiled;
}

double Context::pipeline_compile_seconds() const {
  std::lock_guard<std::mutex> lock(pipelines_mutex_);
  return compile_seconds_;
}

size_t Context::compiled_pipeline_count() const {
  std::lock_guard<std::mutex> lock(pipelines_mutex_);
  return pipelines_.size();
}

uint32_t Context::find_memory_type(uint32_t type_bits, VkMemoryPropertyFlags required) const {
  for (uint32_t i = 0; i < memory_.memoryTypeCount; ++i)
    if ((type_bits & (1u << i)) && (memory_.memoryTypes[i].propertyFlags & required) == required) return i;
  return UINT32_MAX;
}

uint32_t Context::device_memory_type(uint32_t type_bits, bool* mapped) const {
  const VkMemoryPropertyFlags host = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
  uint64_t largest_local_heap = 0;
  for (uint32_t h = 0; h < memory_.memoryHeapCount; ++h)
    if (memory_.memoryHeaps[h].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT)
      largest_local_heap = std::max<uint64_t>(largest_local_heap, memory_.memoryHeaps[h].size);
  for (uint32_t i = 0; i < memory_.memoryTypeCount; ++i) {
    const auto& t = memory_.memoryTypes[i];
    const bool local_and_host = (t.propertyFlags & (VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT | host)) ==
                                (VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT | host);
    // A BAR window is a small heap beside the large one; unified memory and resizable BAR span it.
    if ((type_bits & (1u << i)) && local_and_host && 2 * memory_.memoryHeaps[t.heapIndex].size >= largest_local_heap) {
      *mapped = !force_staging_;
      return i;
    }
  }
  *mapped = false;
  return find_memory_type(type_bits, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
}

uint64_t Context::memory_limit(uint32_t heap) const {
  const uint64_t budget = heap < probe_.heaps.size() ? probe_.heaps[heap].budget : 0;
  if (!cap_) return budget;
  return budget ? std::min(cap_, budget) : cap_;
}

namespace {
std::string mib(uint64_t bytes) {
  char s[32];
  std::snprintf(s, sizeof s, "%.1f MiB", double(bytes) / (1 << 20));
  return s;
}
}  // namespace

void Context::reserve(uint64_t bytes, uint32_t heap, const std::string& label) {
  if (!inject_oom_label_.empty() && label.find(inject_oom_label_) != std::string::npos && inject_oom_left_.fetch_sub(1) > 0)
    throw OutOfDeviceMemory("device memory: buffer '" + label + "' (" + mib(bytes) +
                            ") failed to allocate (injected by VKQ_INJECT_OOM)");
  const uint64_t limit = memory_limit(heap);
  const uint64_t now = allocated_.fetch_add(bytes) + bytes;
  if (limit && now > limit) {
    allocated_.fetch_sub(bytes);
    const bool capped = cap_ && limit == cap_;
    throw OutOfDeviceMemory("device memory: buffer '" + label + "' needs " + mib(bytes) + ", and with " +
                            mib(now - bytes) + " already allocated the run would pass its limit of " + mib(limit) +
                            (capped ? " (--max-device-memory)" : " (the heap's budget, VK_EXT_memory_budget)"));
  }
  uint64_t peak = peak_.load();
  while (now > peak && !peak_.compare_exchange_weak(peak, now)) {
  }
}

void Context::on_free(uint64_t bytes) { allocated_.fetch_sub(bytes); }

std::vector<std::string> Context::validation_messages() const {
  std::lock_guard<std::mutex> lock(messages_mutex_);
  return messages_;
}

void Context::record_validation_message(const std::string& msg) {
  validation_messages_.fetch_add(1);
  std::lock_guard<std::mutex> lock(messages_mutex_);
  if (messages_.size() < 64) messages_.push_back(msg);
}

}  // namespace vkq::vk
