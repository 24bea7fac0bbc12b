// Storage buffers with their own memory: device-local for kernels (mapped directly when the
// device's local memory is host-visible and large, as on lavapipe, integrated GPUs and resizable BAR),
// and staging. Transfers to unmapped memory go through the context's one persistent staging buffer.
#pragma once

#include <vulkan/vulkan.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

namespace vkq::vk {

class Context;

enum class MemoryUse {
  Device,   // kernel operands: device-local (host-visible too when the device offers it)
  Staging,  // host-visible, coherent: upload/download bounce buffers
};

class Buffer {
 public:
  Buffer() = default;
  Buffer(Context& ctx, uint64_t bytes, MemoryUse use, std::string label);
  ~Buffer();
  Buffer(Buffer&& o) noexcept;
  Buffer& operator=(Buffer&& o) noexcept;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  VkBuffer handle() const { return buffer_; }
  uint64_t size() const { return size_; }
  uint64_t allocated_size() const { return std::max<uint64_t>((size_ + 15) & ~uint64_t(15), 16); }  // the VkBuffer's
  const std::string& label() const { return label_; }
  void* mapped() const { return mapped_; }  // non-null when host-visible
  explicit operator bool() const { return buffer_ != VK_NULL_HANDLE; }

 private:
  void release();
  Context* ctx_ = nullptr;
  VkBuffer buffer_ = VK_NULL_HANDLE;
  VkDeviceMemory memory_ = VK_NULL_HANDLE;
  uint64_t size_ = 0;
  uint64_t counted_ = 0;  // bytes reserved against the context's device-memory limit
  void* mapped_ = nullptr;
  std::string label_;
};

// Host <-> device copies (through a staging buffer when the memory is not host-visible).
void upload(Context& ctx, Buffer& dst, const void* src, uint64_t bytes, uint64_t dst_offset = 0);
void download(Context& ctx, const Buffer& src, void* dst, uint64_t bytes, uint64_t src_offset = 0);

template <class T>
Buffer upload_new(Context& ctx, const std::vector<T>& data, std::string label) {
  Buffer b(ctx, data.size() * sizeof(T), MemoryUse::Device, std::move(label));
  if (!data.empty()) upload(ctx, b, data.data(), data.size() * sizeof(T));
  return b;
}

template <class T>
std::vector<T> download_all(Context& ctx, const Buffer& b, size_t count) {
  std::vector<T> out(count);
  if (count) download(ctx, b, out.data(), count * sizeof(T));
  return out;
}

}  // namespace vkq::vk
