// Records dispatches, barriers, copies and timestamps into one command buffer, submits it and
// waits on a fence. Grids larger than maxComputeWorkGroupCount are split with vkCmdDispatchBase,
// so shaders must take their totals from push constants, never from gl_NumWorkGroups.
#pragma once

#include <vulkan/vulkan.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "vk/buffer.hpp"
#include "vk/kernel.hpp"

namespace vkq::vk {

class Context;

class Stream {
 public:
  explicit Stream(Context& ctx);
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  // Binds `buffers` to bindings 0..n-1, pushes `push`, and dispatches groups (gx, gy, gz).
  template <class Push>
  void dispatch(const Kernel& k, std::initializer_list<const Buffer*> buffers, const Push& push, uint32_t gx,
                uint32_t gy = 1, uint32_t gz = 1) {
    dispatch_raw(k, buffers, &push, sizeof(Push), gx, gy, gz);
  }
  void dispatch_raw(const Kernel& k, std::initializer_list<const Buffer*> buffers, const void* push,
                    uint32_t push_bytes, uint32_t gx, uint32_t gy, uint32_t gz);

  // Makes earlier shader writes visible to later shader reads and writes.
  void barrier();
  void copy(const Buffer& src, Buffer& dst, uint64_t bytes, uint64_t src_offset = 0, uint64_t dst_offset = 0);
  void fill_zero(Buffer& dst);

  // Writes a GPU timestamp; returns its slot (or UINT32_MAX when the queue has none).
  uint32_t timestamp();
  // Milliseconds between two slots, valid after submit_and_wait(); -1 if unavailable.
  double elapsed_ms(uint32_t from, uint32_t to) const;

  // Submits everything recorded, waits for it, and starts a fresh recording.
  void submit_and_wait();

  uint64_t dispatch_count() const { return dispatches_; }
  // Lowers the per-dispatch group limit (tests use it to exercise splitting).
  void set_max_group_count_for_testing(uint32_t limit) { test_limit_ = limit; }

 private:
  void begin();
  // With a profile: a timestamp pair around one command, read back after the submission.
  uint32_t profile_start();
  void profile_end(uint32_t start, const std::string& kernel);
  VkDescriptorSet allocate_set(VkDescriptorSetLayout layout);

  Context& ctx_;
  VkCommandPool pool_ = VK_NULL_HANDLE;
  VkCommandBuffer cmd_ = VK_NULL_HANDLE;
  VkFence fence_ = VK_NULL_HANDLE;
  VkQueryPool queries_ = VK_NULL_HANDLE;
  uint32_t query_capacity_ = 0, queries_used_ = 0;
  std::vector<uint64_t> query_results_;
  struct TimedCommand {
    std::string kernel;
    uint32_t start;
  };
  std::vector<TimedCommand> timed_;
  std::vector<VkDescriptorPool> desc_pools_;
  size_t desc_pool_current_ = 0;
  bool recording_ = false;
  bool recorded_anything_ = false;
  uint64_t dispatches_ = 0;
  uint32_t test_limit_ = 0;
};

}  // namespace vkq::vk
