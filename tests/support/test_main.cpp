// main() for every test executable. Suites that use Vulkan also link vk_test_env.cpp, whose
// strong register_vulkan_environment() replaces the weak no-op below.
#include <gtest/gtest.h>

#include "support/test_seed.hpp"

namespace vkq::test {
__attribute__((weak)) void register_vulkan_environment() {}
}  // namespace vkq::test

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  vkq::test::register_vulkan_environment();
  return RUN_ALL_TESTS();
}
