// The device-memory limit, forced staging, the binding range and injected allocation failures (issue 8):
// each on its own context, made with the environment override it tests.
#include <gtest/gtest.h>

#include <cstdlib>
#include <numeric>
#include <string>
#include <vector>

#include "kernels/add.hpp"
#include "vk/buffer.hpp"
#include "vk/context.hpp"
#include "vk/error.hpp"
#include "vk/stream.hpp"

using namespace vkq;

namespace {

vk::ContextOptions validated() {
  vk::ContextOptions o;
  o.validation = true;
  o.persist_pipeline_cache = false;
  return o;
}

// Sets an environment variable for one scope (contexts read these when they are made).
struct ScopedEnv {
  std::string name;
  ScopedEnv(const char* n, const std::string& value) : name(n) { ::setenv(n, value.c_str(), 1); }
  ~ScopedEnv() { ::unsetenv(name.c_str()); }
};

constexpr uint64_t MiB = 1 << 20;

}  // namespace

TEST(DeviceMemory, TheCapRefusesAnAllocationNamingTheBufferAndTheLimit) {
  vk::Context ctx(validated());
  ctx.set_memory_cap(8 * MiB);
  {
    vk::Buffer first(ctx, 4 * MiB, vk::MemoryUse::Device, "first");
    try {
      vk::Buffer second(ctx, 5 * MiB, vk::MemoryUse::Device, "second");
      FAIL() << "5 MiB more fit under an 8 MiB cap with 4 MiB held";
    } catch (const vk::OutOfDeviceMemory& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find("'second'"), std::string::npos) << m;
      EXPECT_NE(m.find("8.0 MiB"), std::string::npos) << m;
      EXPECT_NE(m.find("--max-device-memory"), std::string::npos) << m;
    }
    vk::Buffer staging(ctx, 16 * MiB, vk::MemoryUse::Staging, "staging is host memory");  // not counted
  }
  vk::Buffer second(ctx, 5 * MiB, vk::MemoryUse::Device, "second");  // the first is freed: it fits now
  EXPECT_LE(ctx.peak_allocated_bytes(), 8 * MiB);
  EXPECT_GE(ctx.peak_allocated_bytes(), 5 * MiB);
  EXPECT_EQ(ctx.validation_message_count(), 0u);
}

TEST(DeviceMemory, ForcedStagingRoundTripsInPiecesLargerThanTheStagingBuffer) {
  ScopedEnv env("VKQ_FORCE_STAGING", "1");
  vk::Context ctx(validated());
  const uint64_t n = (vk::Context::kStagingBytes * 5 / 2) / 4 + 3;  // 2.5 staging buffers and a ragged end
  std::vector<uint32_t> data(n);
  std::iota(data.begin(), data.end(), 11u);
  vk::Buffer b(ctx, n * 4, vk::MemoryUse::Device, "unmapped");
  EXPECT_EQ(b.mapped(), nullptr) << "VKQ_FORCE_STAGING=1 must not map device buffers";
  std::vector<uint32_t> poison(n, 0xdeadbeefu);
  vk::upload(ctx, b, poison.data(), n * 4);
  vk::upload(ctx, b, data.data() + 5, (n - 5) * 4, 5 * 4);  // at an offset: the pieces keep it
  vk::upload(ctx, b, data.data(), 5 * 4);
  EXPECT_EQ(vk::download_all<uint32_t>(ctx, b, n), data);
  std::vector<uint32_t> tail(7);
  vk::download(ctx, b, tail.data(), 7 * 4, (n - 7) * 4);
  EXPECT_EQ(tail, std::vector<uint32_t>(data.end() - 7, data.end()));
  // A kernel reads and writes the unmapped memory as usual.
  kernels::Add add(ctx);
  std::vector<float> ones(1000, 1.0f);
  vk::Buffer f = vk::upload_new(ctx, ones, "ones");
  vk::Buffer g(ctx, 1000 * 4, vk::MemoryUse::Device, "twos");
  vk::Stream s(ctx);
  add.run(s, f, f, g, 1000);
  s.submit_and_wait();
  EXPECT_EQ(vk::download_all<float>(ctx, g, 1000), std::vector<float>(1000, 2.0f));
  EXPECT_EQ(ctx.validation_message_count(), 0u);
}

TEST(DeviceMemory, ABindingBeyondTheStorageRangeIsAClearError) {
  ScopedEnv env("VKQ_MAX_STORAGE_BUFFER_RANGE", std::to_string(MiB));
  vk::Context ctx(validated());
  ASSERT_EQ(ctx.probe().max_storage_buffer_range, MiB);
  kernels::Add add(ctx);
  vk::Buffer small(ctx, MiB, vk::MemoryUse::Device, "within range");  // exactly the range: binds
  vk::Buffer large(ctx, MiB + 16, vk::MemoryUse::Device, "beyond range");
  vk::Stream s(ctx);
  add.run(s, small, small, small, 16);
  try {
    add.run(s, large, small, small, 16);
    FAIL() << "a buffer above maxStorageBufferRange was bound";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("'beyond range'"), std::string::npos) << m;
    EXPECT_NE(m.find("maxStorageBufferRange of 1048576"), std::string::npos) << m;
  }
  s.submit_and_wait();
  EXPECT_EQ(ctx.validation_message_count(), 0u);
}

TEST(DeviceMemory, AnInjectedFailureHitsOnlyTheNamedBufferAsOftenAsAsked) {
  ScopedEnv env("VKQ_INJECT_OOM", "victim:2");
  vk::Context ctx(validated());
  vk::Buffer other(ctx, 1024, vk::MemoryUse::Device, "bystander");
  const uint64_t held = ctx.allocated_bytes();
  for (int i = 0; i < 2; ++i)
    EXPECT_THROW(vk::Buffer(ctx, 1024, vk::MemoryUse::Device, "the victim"), vk::OutOfDeviceMemory);
  EXPECT_EQ(ctx.allocated_bytes(), held);  // nothing stays reserved for a failed allocation
  vk::Buffer third(ctx, 1024, vk::MemoryUse::Device, "the victim");
  EXPECT_TRUE(bool(third));
}
