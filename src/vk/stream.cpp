#include "vk/stream.hpp"

#include <algorithm>

#include "vk/context.hpp"
#include "vk/error.hpp"

namespace vkq::vk {

namespace {
constexpr uint32_t kSetsPerPool = 256;
constexpr uint32_t kQueryCapacity = 256;
constexpr uint32_t kProfileQueryCapacity = 4096;  // 2048 timed commands per submission before a flush
}  // namespace

Stream::Stream(Context& ctx) : ctx_(ctx) {
  const VkDevice dev = ctx.device();
  VkCommandPoolCreateInfo pi{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
  pi.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
  pi.queueFamilyIndex = ctx.queue_family();
  check(vkCreateCommandPool(dev, &pi, nullptr, &pool_), "vkCreateCommandPool");
  VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
  ai.commandPool = pool_;
  ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
  ai.commandBufferCount = 1;
  check(vkAllocateCommandBuffers(dev, &ai, &cmd_), "vkAllocateCommandBuffers");
  VkFenceCreateInfo fi{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
  check(vkCreateFence(dev, &fi, nullptr, &fence_), "vkCreateFence");
  if (ctx.probe().timestamps) {
    VkQueryPoolCreateInfo qi{VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO};
    qi.queryType = VK_QUERY_TYPE_TIMESTAMP;
    qi.queryCount = ctx.profile() ? kProfileQueryCapacity : kQueryCapacity;
    check(vkCreateQueryPool(dev, &qi, nullptr, &queries_), "vkCreateQueryPool");
    query_capacity_ = qi.queryCount;
  }
}

Stream::~Stream() {
  const VkDevice dev = ctx_.device();
  if (recording_ && recorded_anything_) {
    // An exception abandoned this stream mid-recording: end it without submitting.
    vkEndCommandBuffer(cmd_);
  }
  for (auto p : desc_pools_) vkDestroyDescriptorPool(dev, p, nullptr);
  if (queries_) vkDestroyQueryPool(dev, queries_, nullptr);
  if (fence_) vkDestroyFence(dev, fence_, nullptr);
  if (pool_) vkDestroyCommandPool(dev, pool_, nullptr);
}

void Stream::begin() {
  if (recording_) return;
  VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
  bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
  check(vkBeginCommandBuffer(cmd_, &bi), "vkBeginCommandBuffer");
  if (queries_) vkCmdResetQueryPool(cmd_, queries_, 0, query_capacity_);
  queries_used_ = 0;
  recording_ = true;
}

VkDescriptorSet Stream::allocate_set(VkDescriptorSetLayout layout) {
  const VkDevice dev = ctx_.device();
  while (true) {
    if (desc_pool_current_ == desc_pools_.size()) {
      VkDescriptorPoolSize size{VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, kSetsPerPool * 8};
      VkDescriptorPoolCreateInfo pi{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
      pi.maxSets = kSetsPerPool;
      pi.poolSizeCount = 1;
      pi.pPoolSizes = &size;
      VkDescriptorPool p;
      check(vkCreateDescriptorPool(dev, &pi, nullptr, &p), "vkCreateDescriptorPool");
      desc_pools_.push_back(p);
    }
    VkDescriptorSetAllocateInfo ai{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO};
    ai.descriptorPool = desc_pools_[desc_pool_current_];
    ai.descriptorSetCount = 1;
    ai.pSetLayouts = &layout;
    VkDescriptorSet set;
    const VkResult r = vkAllocateDescriptorSets(dev, &ai, &set);
    if (r == VK_SUCCESS) return set;
    if (r != VK_ERROR_OUT_OF_POOL_MEMORY && r != VK_ERROR_FRAGMENTED_POOL) check(r, "vkAllocateDescriptorSets");
    ++desc_pool_current_;  // this pool is full: move on to the next (or a new) one
  }
}

void Stream::dispatch_raw(const Kernel& k, std::initializer_list<const Buffer*> buffers, const void* push,
                          uint32_t push_bytes, uint32_t gx, uint32_t gy, uint32_t gz) {
  if (buffers.size() != k.desc().n_buffers)
    throw Error("kernel " + k.desc().shader + " takes " + std::to_string(k.desc().n_buffers) + " buffers, got " +
                std::to_string(buffers.size()));
  if (push_bytes != k.desc().push_bytes)
    throw Error("kernel " + k.desc().shader + ": push constants of " + std::to_string(push_bytes) +
                " bytes, the kernel declares " + std::to_string(k.desc().push_bytes));
  if (gx == 0 || gy == 0 || gz == 0) return;  // empty grid: nothing to do
  const uint32_t timed = profile_start();
  VkDescriptorSet set = allocate_set(k.set_layout());
  std::vector<VkDescriptorBufferInfo> infos;
  std::vector<VkWriteDescriptorSet> writes;
  infos.reserve(buffers.size());
  uint32_t binding = 0;
  for (const Buffer* b : buffers) {
    if (!b || !*b) throw Error("kernel " + k.desc().shader + ": binding " + std::to_string(binding) + " is empty");
    // A binding spans at most maxStorageBufferRange: larger tensors must come in row ranges.
    const uint64_t max_range = ctx_.probe().max_storage_buffer_range;
    if (b->size() > max_range)
      throw Error("kernel " + k.desc().shader + ": buffer '" + b->label() + "' of " + std::to_string(b->size()) +
                  " bytes is larger than the device's maxStorageBufferRange of " + std::to_string(max_range) +
                  " bytes, and this kernel binds it whole");
    infos.push_back({b->handle(), 0, b->allocated_size() <= max_range ? VK_WHOLE_SIZE : max_range});
    VkWriteDescriptorSet w{VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET};
    w.dstSet = set;
    w.dstBinding = binding++;
    w.descriptorCount = 1;
    w.descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
    w.pBufferInfo = &infos.back();
    writes.push_back(w);
  }
  vkUpdateDescriptorSets(ctx_.device(), uint32_t(writes.size()), writes.data(), 0, nullptr);
  vkCmdBindPipeline(cmd_, VK_PIPELINE_BIND_POINT_COMPUTE, k.pipeline());
  vkCmdBindDescriptorSets(cmd_, VK_PIPELINE_BIND_POINT_COMPUTE, k.layout(), 0, 1, &set, 0, nullptr);
  if (push_bytes) vkCmdPushConstants(cmd_, k.layout(), VK_SHADER_STAGE_COMPUTE_BIT, 0, push_bytes, push);
  const uint32_t* lim = ctx_.probe().max_workgroup_count;
  const uint32_t mx = test_limit_ ? std::min(test_limit_, lim[0]) : lim[0];
  const uint32_t my = test_limit_ ? std::min(test_limit_, lim[1]) : lim[1];
  const uint32_t mz = test_limit_ ? std::min(test_limit_, lim[2]) : lim[2];
  for (uint32_t z = 0; z < gz; z += mz)
    for (uint32_t y = 0; y < gy; y += my)
      for (uint32_t x = 0; x < gx; x += mx) {
        vkCmdDispatchBase(cmd_, x, y, z, std::min(mx, gx - x), std::min(my, gy - y), std::min(mz, gz - z));
        ++dispatches_;
      }
  recorded_anything_ = true;
  profile_end(timed, k.desc().shader);
}

void Stream::barrier() {
  begin();
  VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
  mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
  mb.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_READ_BIT |
                     VK_ACCESS_TRANSFER_WRITE_BIT;
  vkCmdPipelineBarrier(cmd_, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                       VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 1, &mb, 0, nullptr, 0,
                       nullptr);
}

void Stream::copy(const Buffer& src, Buffer& dst, uint64_t bytes, uint64_t src_offset, uint64_t dst_offset) {
  if (!bytes) return;
  const uint32_t timed = profile_start();
  VkBufferCopy region{src_offset, dst_offset, bytes};
  vkCmdCopyBuffer(cmd_, src.handle(), dst.handle(), 1, &region);
  recorded_anything_ = true;
  profile_end(timed, "copy");
}

void Stream::fill_zero(Buffer& dst) {
  const uint32_t timed = profile_start();
  vkCmdFillBuffer(cmd_, dst.handle(), 0, VK_WHOLE_SIZE, 0);
  recorded_anything_ = true;
  profile_end(timed, "fill");
}

uint32_t Stream::timestamp() {
  if (!queries_ || queries_used_ >= query_capacity_) return UINT32_MAX;
  begin();
  vkCmdWriteTimestamp(cmd_, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, queries_, queries_used_);
  return queries_used_++;
}

uint32_t Stream::profile_start() {
  if (!ctx_.profile()) {
    begin();
    return UINT32_MAX;
  }
  // The pool is full: submitting early keeps the order of the work and frees every slot.
  if (recording_ && queries_used_ + 2 > query_capacity_) submit_and_wait();
  begin();
  return timestamp();
}

void Stream::profile_end(uint32_t start, const std::string& kernel) {
  if (start == UINT32_MAX) return;
  timestamp();
  timed_.push_back({kernel, start});
}

double Stream::elapsed_ms(uint32_t from, uint32_t to) const {
  if (from >= query_results_.size() || to >= query_results_.size()) return -1;
  return double(query_results_[to] - query_results_[from]) * ctx_.probe().timestamp_period_ns * 1e-6;
}

void Stream::submit_and_wait() {
  if (!recording_) return;
  // Make device writes visible to host reads of mapped memory after the fence.
  VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
  mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
  mb.dstAccessMask = VK_ACCESS_HOST_READ_BIT;
  vkCmdPipelineBarrier(cmd_, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                       VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &mb, 0, nullptr, 0, nullptr);
  check(vkEndCommandBuffer(cmd_), "vkEndCommandBuffer");
  recording_ = false;
  VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
  si.commandBufferCount = 1;
  si.pCommandBuffers = &cmd_;
  const VkDevice dev = ctx_.device();
  check(vkQueueSubmit(ctx_.queue(), 1, &si, fence_), "vkQueueSubmit");
  check(vkWaitForFences(dev, 1, &fence_, VK_TRUE, UINT64_MAX), "vkWaitForFences");
  check(vkResetFences(dev, 1, &fence_), "vkResetFences");
  query_results_.assign(queries_used_, 0);
  if (queries_used_)
    check(vkGetQueryPoolResults(dev, queries_, 0, queries_used_, queries_used_ * sizeof(uint64_t),
                                query_results_.data(), sizeof(uint64_t),
                                VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT),
          "vkGetQueryPoolResults");
  if (KernelProfile* profile = ctx_.profile())
    for (const auto& t : timed_) profile->add(t.kernel, elapsed_ms(t.start, t.start + 1));
  timed_.clear();
  check(vkResetCommandBuffer(cmd_, 0), "vkResetCommandBuffer");
  for (auto p : desc_pools_) vkResetDescriptorPool(dev, p, 0);
  desc_pool_current_ = 0;
  recorded_anything_ = false;
}

}  // namespace vkq::vk
