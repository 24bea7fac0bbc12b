#include "vk/buffer.hpp"

#include <algorithm>
#include <cstring>

#include "vk/context.hpp"
#include "vk/error.hpp"
#include "vk/stream.hpp"

namespace vkq::vk {

Buffer::Buffer(Context& ctx, uint64_t bytes, MemoryUse use, std::string label)
    : ctx_(&ctx), size_(bytes), label_(std::move(label)) {
  // Zero-size buffers are invalid, and shaders read packed fp16 as 32-bit words: round up to 16.
  const uint64_t alloc_bytes = std::max<uint64_t>((bytes + 15) & ~uint64_t(15), 16);
  if (alloc_bytes > ctx.probe().max_buffer_size)
    throw OutOfDeviceMemory("buffer '" + label_ + "' needs " + std::to_string(bytes) + " bytes, above the device's " +
                            "maximum buffer size of " + std::to_string(ctx.probe().max_buffer_size));
  VkBufferCreateInfo info{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
  info.size = alloc_bytes;
  info.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;
  info.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
  check(vkCreateBuffer(ctx.device(), &info, nullptr, &buffer_), "vkCreateBuffer(" + label_ + ")");
  VkMemoryRequirements req;
  vkGetBufferMemoryRequirements(ctx.device(), buffer_, &req);

  const VkMemoryPropertyFlags host = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
  uint32_t type = UINT32_MAX;
  if (use == MemoryUse::Device) {
    type = ctx.find_memory_type(req.memoryTypeBits, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT | host);
    if (type == UINT32_MAX) type = ctx.find_memory_type(req.memoryTypeBits, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
  } else {
    type = ctx.find_memory_type(req.memoryTypeBits, host | VK_MEMORY_PROPERTY_HOST_CACHED_BIT);
    if (type == UINT32_MAX) type = ctx.find_memory_type(req.memoryTypeBits, host);
  }
  if (type == UINT32_MAX) {
    release();
    throw Error("buffer '" + label_ + "': the device has no suitable memory type");
  }
  VkMemoryAllocateInfo ai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
  ai.allocationSize = req.size;
  ai.memoryTypeIndex = type;
  const VkResult r = vkAllocateMemory(ctx.device(), &ai, nullptr, &memory_);
  if (r != VK_SUCCESS) {
    release();
    throw_vk_error(r, "vkAllocateMemory(" + std::to_string(req.size) + " bytes for " + label_ + ")");
  }
  allocated_ = req.size;
  ctx.on_allocate(allocated_);
  check(vkBindBufferMemory(ctx.device(), buffer_, memory_, 0), "vkBindBufferMemory(" + label_ + ")");
  VkMemoryPropertyFlags flags = 0;
  {
    VkPhysicalDeviceMemoryProperties mp;
    vkGetPhysicalDeviceMemoryProperties(ctx.physical(), &mp);
    flags = mp.memoryTypes[type].propertyFlags;
  }
  if ((flags & host) == host)
    check(vkMapMemory(ctx.device(), memory_, 0, VK_WHOLE_SIZE, 0, &mapped_), "vkMapMemory(" + label_ + ")");
}

Buffer::~Buffer() { release(); }

void Buffer::release() {
  if (!ctx_) return;
  VkDevice dev = ctx_->device();
  if (mapped_) vkUnmapMemory(dev, memory_);
  if (buffer_) vkDestroyBuffer(dev, buffer_, nullptr);
  if (memory_) {
    vkFreeMemory(dev, memory_, nullptr);
    ctx_->on_free(allocated_);
  }
  mapped_ = nullptr;
  buffer_ = VK_NULL_HANDLE;
  memory_ = VK_NULL_HANDLE;
  allocated_ = 0;
}

Buffer::Buffer(Buffer&& o) noexcept { *this = std::move(o); }

Buffer& Buffer::operator=(Buffer&& o) noexcept {
  if (this != &o) {
    release();
    ctx_ = o.ctx_;
    buffer_ = o.buffer_;
    memory_ = o.memory_;
    size_ = o.size_;
    allocated_ = o.allocated_;
    mapped_ = o.mapped_;
    label_ = std::move(o.label_);
    o.ctx_ = nullptr;
    o.buffer_ = VK_NULL_HANDLE;
    o.memory_ = VK_NULL_HANDLE;
    o.mapped_ = nullptr;
    o.size_ = o.allocated_ = 0;
  }
  return *this;
}

namespace {
void check_range(const Buffer& b, uint64_t offset, uint64_t bytes, const char* what) {
  if (offset + bytes > b.size() || offset + bytes < offset)
    throw Error(std::string(what) + " of " + std::to_string(bytes) + " bytes at offset " + std::to_string(offset) +
                " overruns buffer '" + b.label() + "' of " + std::to_string(b.size()) + " bytes");
}
}  // namespace

void upload(Context& ctx, Buffer& dst, const void* src, uint64_t bytes, uint64_t dst_offset) {
  check_range(dst, dst_offset, bytes, "upload");
  if (!bytes) return;
  if (dst.mapped()) {
    std::memcpy(static_cast<char*>(dst.mapped()) + dst_offset, src, bytes);
    return;
  }
  Buffer staging(ctx, bytes, MemoryUse::Staging, "staging for " + dst.label());
  std::memcpy(staging.mapped(), src, bytes);
  Stream s(ctx);
  s.copy(staging, dst, bytes, 0, dst_offset);
  s.submit_and_wait();
}

void download(Context& ctx, const Buffer& src, void* dst, uint64_t bytes, uint64_t src_offset) {
  check_range(src, src_offset, bytes, "download");
  if (!bytes) return;
  if (src.mapped()) {
    std::memcpy(dst, static_cast<const char*>(src.mapped()) + src_offset, bytes);
    return;
  }
  Buffer staging(ctx, bytes, MemoryUse::Staging, "staging for " + src.label());
  Stream s(ctx);
  s.copy(src, staging, bytes, src_offset, 0);
  s.submit_and_wait();
  std::memcpy(dst, staging.mapped(), bytes);
}

}  // namespace vkq::vk
