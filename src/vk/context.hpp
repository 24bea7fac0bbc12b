// The Vulkan instance, the chosen device and its compute queue. One Context per run;
// kernels, buffers and streams are created from it. Validation messages are counted so
// tests (and `vkquant selftest --validate`) can fail on any of them.
#pragma once

#include <vulkan/vulkan.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "vk/device_probe.hpp"
#include "vk/error.hpp"
#include "vk/kernel_profile.hpp"

namespace vkq::vk {

struct ContextOptions {
  std::string device;       // selector: "" = best, index, or name substring; VKQ_DEVICE overrides ""
  bool validation = false;  // enable VK_LAYER_KHRONOS_validation when installed
  bool persist_pipeline_cache = true;
  bool profile = false;     // time every dispatch with GPU timestamps (`--profile`)
};

class PipelineCache;

class Context {
 public:
  explicit Context(const ContextOptions& options = {});
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  VkInstance instance() const { return instance_; }
  VkDevice device() const { return device_; }
  VkPhysicalDevice physical() const { return probe_.physical; }
  VkQueue queue() const { return queue_; }
  uint32_t queue_family() const { return probe_.compute_queue_family; }
  const DeviceProbe& probe() const { return probe_; }
  VkPipelineCache pipeline_cache() const;

  // Memory type index with the required bits and flags; UINT32_MAX when none.
  uint32_t find_memory_type(uint32_t type_bits, VkMemoryPropertyFlags required) const;

  bool validation_enabled() const { return validation_enabled_; }
  uint64_t validation_message_count() const { return validation_messages_.load(); }
  std::vector<std::string> validation_messages() const;
  void record_validation_message(const std::string& msg);

  // Device memory accounting (buffers report here) for the run report's peak figure.
  void on_allocate(uint64_t bytes);
  void on_free(uint64_t bytes);
  uint64_t allocated_bytes() const { return allocated_.load(); }
  uint64_t peak_allocated_bytes() const { return peak_.load(); }

  // Per-kernel device time when the run asked for a profile and the queue has timestamps; else null.
  KernelProfile* profile() { return profile_.get(); }

  // Probes every device without creating one (for `vkquant devices`).
  static std::vector<DeviceProbe> list_devices();

 private:
  void release();

  VkInstance instance_ = VK_NULL_HANDLE;
  VkDebugUtilsMessengerEXT messenger_ = VK_NULL_HANDLE;
  VkDevice device_ = VK_NULL_HANDLE;
  VkQueue queue_ = VK_NULL_HANDLE;
  DeviceProbe probe_;
  VkPhysicalDeviceMemoryProperties memory_{};
  std::unique_ptr<PipelineCache> cache_;
  std::unique_ptr<KernelProfile> profile_;
  bool validation_enabled_ = false;
  std::atomic<uint64_t> validation_messages_{0};
  std::atomic<uint64_t> allocated_{0}, peak_{0};
  mutable std::mutex messages_mutex_;
  std::vector<std::string> messages_;
};

// Creates a bare instance (no layers) for probing; caller destroys it.
VkInstance create_instance(bool validation, bool* validation_enabled);

// The selector a run uses: explicit option first, then VKQ_DEVICE, else "".
std::string effective_device_selector(const std::string& option);

}  // namespace vkq::vk
