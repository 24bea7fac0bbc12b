// The Vulkan instance, the chosen device and its compute queue. One Context per run;
// kernels, buffers and streams are created from it. Validation messages are counted so
// tests (and `vkquant selftest --validate`) can fail on any of them.
#pragma once

#include <vulkan/vulkan.h>

#include <atomic>
#include <functional>
#include <map>
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
class Buffer;

struct CompiledPipeline;

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
  // The pipeline compiled for `key` (a KernelDesc spelled out), compiling it with `compile` the first time:
  // kept until the context goes, so each distinct kernel is compiled once per run.
  std::shared_ptr<const CompiledPipeline> compiled_pipeline(
      const std::string& key, const std::function<std::shared_ptr<const CompiledPipeline>()>& compile);
  size_t compiled_pipeline_count() const;
  double pipeline_compile_seconds() const;  // host time spent compiling them

  // Memory type index with the required bits and flags; UINT32_MAX when none.
  uint32_t find_memory_type(uint32_t type_bits, VkMemoryPropertyFlags required) const;
  // The memory type for kernel operands: device-local, and host-visible (then `*mapped`) only where that heap
  // is large — unified memory or a resizable BAR — never a 256 MiB BAR window by accident. VKQ_FORCE_STAGING=1
  // (tests) never maps, so every transfer goes through staging as on a discrete GPU. UINT32_MAX when none.
  uint32_t device_memory_type(uint32_t type_bits, bool* mapped) const;
  uint32_t heap_of(uint32_t memory_type) const { return memory_.memoryTypes[memory_type].heapIndex; }

  bool validation_enabled() const { return validation_enabled_; }
  uint64_t validation_message_count() const { return validation_messages_.load(); }
  std::vector<std::string> validation_messages() const;
  void record_validation_message(const std::string& msg);

  // Device memory accounting: kernel-operand buffers reserve here before they allocate, for the limit and the
  // run report's peak. The limit is the smaller of the cap (--max-device-memory; 0 = none) and the heap's
  // VK_EXT_memory_budget budget; passing it, or an allocation VKQ_INJECT_OOM=LABEL[:COUNT] names (tests), is
  // an OutOfDeviceMemory naming the buffer, the sizes and the limit.
  void set_memory_cap(uint64_t bytes) { cap_ = bytes; }
  uint64_t memory_cap() const { return cap_; }
  uint64_t memory_limit(uint32_t heap) const;
  void reserve(uint64_t bytes, uint32_t heap, const std::string& label);
  void on_free(uint64_t bytes);
  uint64_t allocated_bytes() const { return allocated_.load(); }
  uint64_t peak_allocated_bytes() const { return peak_.load(); }

  // Per-kernel device time when the run asked for a profile and the queue has timestamps; else null.
  KernelProfile* profile() { return profile_.get(); }

  // One persistent host-visible buffer for transfers to and from memory the host does not map (grown on
  // demand up to kStagingBytes; larger transfers go in pieces). Hold staging_mutex() while using it.
  static constexpr uint64_t kStagingBytes = 16ull << 20;
  Buffer& staging(uint64_t bytes);
  std::mutex& staging_mutex() { return staging_mutex_; }

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
  uint64_t cap_ = 0;
  bool force_staging_ = false;
  std::string inject_oom_label_;  // VKQ_INJECT_OOM
  std::atomic<int> inject_oom_left_{0};
  std::unique_ptr<Buffer> staging_;
  std::mutex staging_mutex_;
  mutable std::mutex pipelines_mutex_;
  std::map<std::string, std::shared_ptr<const CompiledPipeline>> pipelines_;
  double compile_seconds_ = 0;
  mutable std::mutex messages_mutex_;
  std::vector<std::string> messages_;
};

// Creates a bare instance (no layers) for probing; caller destroys it.
VkInstance create_instance(bool validation, bool* validation_enabled);

// The selector a run uses: explicit option first, then VKQ_DEVICE, else "".
std::string effective_device_selector(const std::string& option);

}  // namespace vkq::vk
