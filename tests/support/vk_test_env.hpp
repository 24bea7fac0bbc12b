// One Vulkan context shared by a test executable, with the Khronos validation layer on when
// installed; any validation message fails the test that produced it.
#pragma once

#include "vk/context.hpp"

namespace vkq::test {

vk::Context& vk_context();

}  // namespace vkq::test
