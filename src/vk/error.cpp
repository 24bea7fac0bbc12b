#include "vk/error.hpp"

namespace vkq::vk {

const char* result_name(VkResult r) {
  switch (r) {
#define VKQ_CASE(x) case x: return #x;
    VKQ_CASE(VK_SUCCESS) VKQ_CASE(VK_NOT_READY) VKQ_CASE(VK_TIMEOUT) VKQ_CASE(VK_INCOMPLETE)
    VKQ_CASE(VK_ERROR_OUT_OF_HOST_MEMORY) VKQ_CASE(VK_ERROR_OUT_OF_DEVICE_MEMORY)
    VKQ_CASE(VK_ERROR_INITIALIZATION_FAILED) VKQ_CASE(VK_ERROR_DEVICE_LOST)
    VKQ_CASE(VK_ERROR_MEMORY_MAP_FAILED) VKQ_CASE(VK_ERROR_LAYER_NOT_PRESENT)
    VKQ_CASE(VK_ERROR_EXTENSION_NOT_PRESENT) VKQ_CASE(VK_ERROR_FEATURE_NOT_PRESENT)
    VKQ_CASE(VK_ERROR_INCOMPATIBLE_DRIVER) VKQ_CASE(VK_ERROR_TOO_MANY_OBJECTS)
    VKQ_CASE(VK_ERROR_FORMAT_NOT_SUPPORTED) VKQ_CASE(VK_ERROR_FRAGMENTED_POOL)
    VKQ_CASE(VK_ERROR_OUT_OF_POOL_MEMORY) VKQ_CASE(VK_ERROR_INVALID_SHADER_NV)
    VKQ_CASE(VK_ERROR_UNKNOWN)
#undef VKQ_CASE
    default: return "VkResult(unknown)";
  }
}

void throw_vk_error(VkResult r, const std::string& operation) {
  std::string msg = "Vulkan: " + operation + " failed with " + result_name(r);
  if (r == VK_ERROR_OUT_OF_DEVICE_MEMORY)
    throw OutOfDeviceMemory(msg + " (the device ran out of memory: lower --chunk-tokens or "
                                  "--max-device-memory, or choose a device with more memory with --device)");
  if (r == VK_ERROR_OUT_OF_HOST_MEMORY)
    throw OutOfHostMemory(msg + " (the host ran out of memory (RAM) for the driver: close other programs or lower "
                                "--chunk-tokens)");
  if (r == VK_ERROR_DEVICE_LOST) throw DeviceLost(msg + " (the device was lost; the driver reset it)");
  if (r == VK_ERROR_INCOMPATIBLE_DRIVER || r == VK_ERROR_INITIALIZATION_FAILED)
    throw Error(msg + " (is a Vulkan driver installed? e.g. Debian's mesa-vulkan-drivers for lavapipe)");
  throw Error(msg);
}

}  // namespace vkq::vk
