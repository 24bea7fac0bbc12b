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
  const uint64_t alloc_bytes = allocated_size();
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
  bool map = true;
  if (use == MemoryUse::Device) {
    type = ctx.device_memory_type(req.memoryTypeBits, &map);
  } else {
    type = ctx.find_memory_type(req.memoryTypeBits, host | VK_MEMORY_PROPERTY_HOST_CACHED_BIT);
    if (type == UINT32_MAX) type = ctx.find_memory_type(req.memoryTypeBits, host);
  }
  if (type == UINT32_MAX) {
    release();
    throw Error("buffer '" + label_ + "': the device has no suitable memory type");
  }
  // Kernel operands count against the run's device-memory limit; staging is host memory.
  if (use == MemoryUse::Device) {
    try {
      ctx.reserve(req.size, ctx.heap_of(type), label_);
    } catch (...) {
      release();
      throw;
    }
    counted_ = req.size;
  }
  VkMemoryAllocateInfo ai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
  ai.allocationSize = req.size;
  ai.memoryTypeIndex = type;
  const VkResult r = vkAllocateMemory(ctx.device(), &ai, nullptr, &memory_);
  if (r != VK_SUCCESS) {
    release();
    throw_vk_error(r, "vkAllocateMemory(" + std::to_string(req.size) + " bytes for " + label_ + ")");
  }
  check(vkBindBufferMemory(ctx.device(), buffer_, memory_, 0), "vkBindBufferMemory(" + label_ + ")");
  if (map) check(vkMapMemory(ctx.device(), memory_, 0, VK_WHOLE_SIZE, 0, &mapped_), "vkMapMemory(" + label_ + ")");
}

Buffer::~Buffer() { release(); }

void Buffer::release() {
  if (!ctx_) return;
  VkDevice dev = ctx_->device();
  if (mapped_) vkUnmapMemory(dev, memory_);
  if (buffer_) vkDestroyBuffer(dev, buffer_, nullptr);
  if (memory_) vkFreeMemory(dev, memory_, nullptr);
  if (counted_) ctx_->on_free(counted_);
  mapped_ = nullptr;
  buffer_ = VK_NULL_HANDLE;
  memory_ = VK_NULL_HANDLE;
  counted_ = 0;
}

Buffer::Buffer(Buffer&& o) noexcept { *this = std::move(o); }

Buffer& Buffer::operator=(Buffer&& o) noexcept {
  if (this != &o) {
    release();
    ctx_ = o.ctx_;
    buffer_ = o.buffer_;
    memory_ = o.memory_;
    size_ = o.size_;
    counted_ = o.counted_;
    mapped_ = o.mapped_;
    label_ = std::move(o.label_);
    o.ctx_ = nullptr;
    o.buffer_ = VK_NULL_HANDLE;
    o.memory_ = VK_NULL_HANDLE;
    o.mapped_ = nullptr;
    o.size_ = o.counted_ = 0;
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
  std::lock_guard<std::mutex> lock(ctx.staging_mutex());
  Buffer& staging = ctx.staging(bytes);
  Stream s(ctx);
  for (uint64_t done = 0; done < bytes;) {  // in pieces of the staging buffer's size
    const uint64_t piece = std::min(bytes - done, staging.size());
    std::memcpy(staging.mapped(), static_cast<const char*>(src) + done, piece);
    s.copy(staging, dst, piece, 0, dst_offset + done);
    s.submit_and_wait();
    done += piece;
  }
}

void download(Context& ctx, const Buffer& src, void* dst, uint64_t bytes, uint64_t src_offset) {
  check_range(src, src_offset, bytes, "download");
  if (!bytes) return;
  if (src.mapped()) {
    std::memcpy(dst, static_cast<const char*>(src.mapped()) + src_offset, bytes);
    return;
  }
  std::lock_guard<std::mutex> lock(ctx.staging_mutex());
  Buffer& staging = ctx.staging(bytes);
  Stream s(ctx);
  for (uint64_t done = 0; done < bytes;) {
    const uint64_t piece = std::min(bytes - done, staging.size());
    s.copy(src, staging, piece, src_offset + done, 0);
    s.submit_and_wait();
    std::memcpy(static_cast<char*>(dst) + done, staging.mapped(), piece);
    done += piece;
  }
}

}  // namespace vkq::vk
