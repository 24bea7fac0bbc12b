// VkResult failures become vkq::Error with the operation named; out-of-memory is its own type
// so callers can retry with smaller chunks before giving up (DESIGN.md, Vulkan conventions).
#pragma once

#include <vulkan/vulkan.h>

#include <string>

#include "vkquant/vkquant.hpp"

namespace vkq::vk {

class OutOfDeviceMemory : public Error {
 public:
  using Error::Error;
};

// The driver ran out of host (system) memory: another remedy than device memory, so another type.
class OutOfHostMemory : public Error {
 public:
  using Error::Error;
};

class DeviceLost : public Error {
 public:
  using Error::Error;
};

const char* result_name(VkResult r);

[[noreturn]] void throw_vk_error(VkResult r, const std::string& operation);

inline void check(VkResult r, const char* operation) {
  if (r != VK_SUCCESS) throw_vk_error(r, operation);
}
inline void check(VkResult r, const std::string& operation) {
  if (r != VK_SUCCESS) throw_vk_error(r, operation);
}

}  // namespace vkq::vk
