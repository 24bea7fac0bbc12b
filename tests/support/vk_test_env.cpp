#include "support/vk_test_env.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <memory>

#include "support/test_seed.hpp"

namespace vkq::test {

namespace {

std::unique_ptr<vk::Context>& context_slot() {
  static std::unique_ptr<vk::Context> ctx;
  return ctx;
}

// Fails the running test when the validation layer reported anything during it.
class ValidationListener : public testing::EmptyTestEventListener {
  uint64_t before_ = 0;
  void OnTestStart(const testing::TestInfo&) override {
    before_ = context_slot() ? context_slot()->validation_message_count() : 0;
  }
  void OnTestEnd(const testing::TestInfo& info) override {
    if (!context_slot()) return;
    const uint64_t now = context_slot()->validation_message_count();
    if (now != before_) {
      std::string all;
      for (const auto& m : context_slot()->validation_messages()) all += "\n  " + m;
      ADD_FAILURE() << info.test_suite_name() << "." << info.name() << ": " << (now - before_)
                    << " Vulkan validation message(s):" << all;
    }
  }
};

class VulkanEnvironment : public testing::Environment {
 public:
  void TearDown() override { context_slot().reset(); }
};

}  // namespace

vk::Context& vk_context() {
  auto& ctx = context_slot();
  if (!ctx) {
    vk::ContextOptions o;
    o.validation = true;
    o.persist_pipeline_cache = false;
    ctx = std::make_unique<vk::Context>(o);
    std::printf("[vulkan] device: %s (%s), subgroup %u, validation %s\n", ctx->probe().name.c_str(),
                ctx->probe().kind_name(), ctx->probe().subgroup_size, ctx->validation_enabled() ? "on" : "off (layer not installed)");
  }
  return *ctx;
}

void register_vulkan_environment() {
  testing::AddGlobalTestEnvironment(new VulkanEnvironment);
  testing::UnitTest::GetInstance()->listeners().Append(new ValidationListener);
}

}  // namespace vkq::test
