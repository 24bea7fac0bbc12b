// The Vulkan runtime: device listing and choice, probe facts, buffers, dispatch splitting,
// timestamps, errors that name the operation, spec-constant overrides, the pipeline cache.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <random>

#include "kernels/add.hpp"
#include "kernels/gram.hpp"
#include "support/test_seed.hpp"
#include "support/vk_test_env.hpp"
#include "vk/error.hpp"
#include "vk/pipeline_cache.hpp"
#include "vk/shader_blob.hpp"

namespace vkq {
namespace {

using test::vk_context;

TEST(Devices, ListsAtLeastOneDeviceWithSubgroupSize) {
  auto devices = vk::Context::list_devices();
  ASSERT_FALSE(devices.empty());
  for (const auto& d : devices) {
    EXPECT_FALSE(d.name.empty());
    EXPECT_GE(d.subgroup_size, 1u);
    EXPECT_LE(d.min_subgroup_size, d.max_subgroup_size);
    EXPECT_GT(d.max_shared_memory, 0u);
    EXPECT_GT(d.max_workgroup_count[0], 0u);
    EXPECT_FALSE(d.heaps.empty());
  }
}

vk::DeviceProbe fake(const char* name, vk::DeviceKind kind, uint32_t index) {
  vk::DeviceProbe p;
  p.name = name;
  p.kind = kind;
  p.index = index;
  p.api_version = VK_API_VERSION_1_2;
  p.compute_queue_family = 0;
  return p;
}

TEST(Devices, ChoiceRanksDiscreteFirstAndHonoursSelectors) {
  std::vector<vk::DeviceProbe> d = {fake("llvmpipe", vk::DeviceKind::Cpu, 0),
                                    fake("Intel Arc", vk::DeviceKind::Integrated, 1),
                                    fake("AMD Radeon RX", vk::DeviceKind::Discrete, 2)};
  EXPECT_EQ(vk::choose_device(d, ""), 2u);
  EXPECT_EQ(vk::choose_device(d, "0"), 0u);
  EXPECT_EQ(vk::choose_device(d, "arc"), 1u);
  EXPECT_EQ(vk::choose_device(d, "LLVMPIPE"), 0u);
  try {
    vk::choose_device(d, "nvidia");
    FAIL();
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("nvidia"), std::string::npos);
    EXPECT_NE(m.find("AMD Radeon RX"), std::string::npos) << "the error lists the devices: " << m;
  }
  EXPECT_THROW(vk::choose_device(d, "7"), Error);
  d[2].api_version = VK_API_VERSION_1_1;  // too old: skipped
  EXPECT_EQ(vk::choose_device(d, ""), 1u);
}

TEST(Devices, EnvironmentSelectorIsUsedWhenNoOptionIsGiven) {
  ::setenv("VKQ_DEVICE", "abc", 1);
  EXPECT_EQ(vk::effective_device_selector(""), "abc");
  EXPECT_EQ(vk::effective_device_selector("1"), "1");
  ::unsetenv("VKQ_DEVICE");
  EXPECT_EQ(vk::effective_device_selector(""), "");
}

TEST(Buffers, UploadDownloadRoundTripAndRangeChecks) {
  auto& ctx = vk_context();
  std::vector<uint32_t> data(1000);
  for (uint32_t i = 0; i < 1000; ++i) data[i] = i * 2654435761u;
  auto b = vk::upload_new(ctx, data, "roundtrip");
  EXPECT_EQ(vk::download_all<uint32_t>(ctx, b, 1000), data);
  std::vector<uint32_t> part(10, 7);
  vk::upload(ctx, b, part.data(), 40, 4 * 990);
  EXPECT_EQ(vk::download_all<uint32_t>(ctx, b, 1000)[995], 7u);
  try {
    vk::upload(ctx, b, part.data(), 40, 4 * 991);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("roundtrip"), std::string::npos);
  }
  EXPECT_GE(ctx.peak_allocated_bytes(), 4000u);
}

TEST(Buffers, StagingCopyThroughStream) {
  auto& ctx = vk_context();
  std::vector<float> data(513, 3.25f);
  auto src = vk::upload_new(ctx, data, "src");
  vk::Buffer dst(ctx, data.size() * 4, vk::MemoryUse::Staging, "dst");
  vk::Stream s(ctx);
  s.copy(src, dst, data.size() * 4);
  s.submit_and_wait();
  EXPECT_EQ(vk::download_all<float>(ctx, dst, data.size()), data);
}

TEST(Buffers, AbsurdSizeIsAClearError) {
  auto& ctx = vk_context();
  try {
    vk::Buffer b(ctx, uint64_t(1) << 60, vk::MemoryUse::Device, "absurd");
    FAIL();
  } catch (const vk::OutOfDeviceMemory& e) {
    EXPECT_NE(std::string(e.what()).find("absurd"), std::string::npos) << e.what();
  }
}

// Out of host memory is not out of device memory: its own type, and hints that exist.
TEST(VkErrors, OutOfMemoryNamesWhichMemoryAndRealOptions) {
  try {
    vk::throw_vk_error(VK_ERROR_OUT_OF_HOST_MEMORY, "vkAllocateMemory");
    FAIL();
  } catch (const vk::OutOfHostMemory& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("host ran out of memory"), std::string::npos) << m;
    EXPECT_NE(m.find("--chunk-tokens"), std::string::npos) << m;
  }
  try {
    vk::throw_vk_error(VK_ERROR_OUT_OF_DEVICE_MEMORY, "vkAllocateMemory");
    FAIL();
  } catch (const vk::OutOfDeviceMemory& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("device ran out of memory"), std::string::npos) << m;
    EXPECT_NE(m.find("--chunk-tokens"), std::string::npos) << m;
    EXPECT_EQ(m.find("--chunk "), std::string::npos) << m;  // an option that does not exist
  }
}

TEST(Stream, SplitsDispatchesAboveTheGroupLimitWithSameResult) {
  // channel_stats over 1000 channels = 16 groups; a limit of 3 forces 6 dispatches.
  const uint64_t seed = test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  auto& ctx = vk_context();
  const uint32_t n = 1000, tokens = 9;
  auto x = test::random_floats(rng, size_t(n) * tokens);
  auto xb = vk::upload_new(ctx, x, "X");
  auto run = [&](uint32_t limit) {
    kernels::GramAccumulator g(ctx, n);
    vk::Stream s(ctx);
    s.set_max_group_count_for_testing(limit);
    g.reset(s);
    g.accumulate(s, xb, tokens, kernels::ActivationType::F32);
    s.submit_and_wait();
    return std::make_pair(g.channel_stats_host().mean_sq, s.dispatch_count());
  };
  auto [whole, n_whole] = run(0);
  auto [split, n_split] = run(3);
  EXPECT_EQ(whole, split);
  EXPECT_GT(n_split, n_whole);
  for (uint32_t j = 0; j < n; ++j) {
    double want = 0;
    for (uint32_t t = 0; t < tokens; ++t) want += double(x[t * n + j]) * x[t * n + j];
    ASSERT_NEAR(split[j], want / tokens, 1e-6) << "channel " << j;
  }
}

TEST(Stream, TimestampsAreOrdered) {
  auto& ctx = vk_context();
  if (!ctx.probe().timestamps) GTEST_SKIP() << "device has no compute timestamps";
  vk::Stream s(ctx);
  vk::Buffer b(ctx, 1 << 20, vk::MemoryUse::Device, "fill");
  const uint32_t t0 = s.timestamp();
  s.fill_zero(b);
  const uint32_t t1 = s.timestamp();
  s.submit_and_wait();
  EXPECT_GE(s.elapsed_ms(t0, t1), 0.0);
}

// `--profile`: every dispatch and transfer is timed and attributed to its kernel, also when the stream must
// submit early because the timestamp pool is full (2048 timed commands), without changing the results.
TEST(Stream, ProfileTimesEveryDispatchAcrossAFullTimestampPool) {
  EXPECT_EQ(vk_context().profile(), nullptr);  // not asked for: nothing is timed
  vk::ContextOptions o;
  o.validation = true;
  o.profile = true;
  vk::Context ctx(o);
  if (!ctx.probe().timestamps) GTEST_SKIP() << "device has no compute timestamps";
  ASSERT_NE(ctx.profile(), nullptr);
  const uint64_t seed = test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  const uint32_t n = 777, repeats = 2100;
  const auto y = test::random_floats(rng, n);
  auto yb = vk::upload_new(ctx, y, "y");
  vk::Buffer xb(ctx, n * sizeof(float), vk::MemoryUse::Device, "x");
  kernels::Add add(ctx);
  {
    vk::Stream s(ctx);
    s.fill_zero(xb);
    s.barrier();
    for (uint32_t i = 0; i < repeats; ++i) {
      add.run(s, xb, yb, xb, n);  // x += y
      s.barrier();
    }
    s.submit_and_wait();
  }
  const auto x = vk::download_all<float>(ctx, xb, n);
  for (uint32_t j = 0; j < n; ++j) {
    float want = 0;
    for (uint32_t i = 0; i < repeats; ++i) want += y[j];
    ASSERT_NEAR(x[j], want, 1e-5 * repeats * std::abs(y[j]) + 1e-6) << "element " << j;
  }
  std::map<std::string, vk::KernelTiming> rows;
  for (const auto& r : ctx.profile()->rows()) rows[r.kernel] = r;
  ASSERT_TRUE(rows.count("add"));
  EXPECT_EQ(rows["add"].dispatches, repeats);
  EXPECT_GT(rows["add"].device_ms, 0.0);
  ASSERT_TRUE(rows.count("fill"));
  EXPECT_EQ(rows["fill"].dispatches, 1u);
  EXPECT_GE(rows["fill"].device_ms, 0.0);
  EXPECT_EQ(ctx.validation_message_count(), 0u);
}

TEST(Kernels, UnknownShaderAndSpecOverridesAreReported) {
  EXPECT_THROW(vk::find_shader("no_such_kernel"), Error);
  EXPECT_EQ(vk::find_shader("gemm").name, std::string("gemm"));
  ::setenv("VKQ_SPEC_GEMM_1", "8", 1);
  auto spec = vk::apply_spec_overrides("gemm", {16, 16});
  EXPECT_EQ(spec[1], 8u);
  ::setenv("VKQ_SPEC_GEMM_1", "zero", 1);
  EXPECT_THROW(vk::apply_spec_overrides("gemm", {16, 16}), Error);
  ::unsetenv("VKQ_SPEC_GEMM_1");
}

TEST(Kernels, WrongBindingCountIsAnError) {
  auto& ctx = vk_context();
  vk::Kernel k(ctx, vk::KernelDesc{"gram_finalize", 3, 8, {256}});
  vk::Buffer b(ctx, 64, vk::MemoryUse::Device, "b");
  vk::Stream s(ctx);
  struct P {
    uint32_t a;
    float b;
  } p{1, 1.0f};
  EXPECT_THROW(s.dispatch(k, {&b, &b}, p, 1), Error);
  struct TooBig {
    uint32_t a, b, c;
  } q{1, 2, 3};
  EXPECT_THROW(s.dispatch(k, {&b, &b, &b}, q, 1), Error);  // wrong push size
}

// A run makes the same kernels for every block and stage: each distinct description is compiled once per
// context, its pipeline shared (and still usable after the first Kernel made from it is gone).
TEST(Kernels, EachDistinctKernelIsCompiledOncePerContext) {
  vk::ContextOptions o;
  o.validation = true;
  vk::Context ctx(o);
  const size_t before = ctx.compiled_pipeline_count();
  VkPipeline first = VK_NULL_HANDLE;
  {
    vk::Kernel k(ctx, vk::KernelDesc{"gram_finalize", 3, 8, {256}});
    first = k.pipeline();
  }
  EXPECT_EQ(ctx.compiled_pipeline_count(), before + 1);
  vk::Kernel again(ctx, vk::KernelDesc{"gram_finalize", 3, 8, {256}});
  EXPECT_EQ(again.pipeline(), first);
  EXPECT_EQ(ctx.compiled_pipeline_count(), before + 1);
  vk::Kernel other(ctx, vk::KernelDesc{"gram_finalize", 3, 8, {128}});  // other spec constants: its own
  EXPECT_NE(other.pipeline(), first);
  EXPECT_EQ(ctx.compiled_pipeline_count(), before + 2);
  // A shared pipeline computes as its own would: x = y + y through two Add objects, the first destroyed.
  const uint64_t seed = test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  const uint32_t n = 1001;
  const auto y = test::random_floats(rng, n);
  auto yb = vk::upload_new(ctx, y, "y");
  vk::Buffer xb(ctx, n * sizeof(float), vk::MemoryUse::Device, "x");
  vk::upload(ctx, xb, test::poisoned(n).data(), n * sizeof(float));
  { kernels::Add warm(ctx); }
  const size_t with_add = ctx.compiled_pipeline_count();
  kernels::Add add(ctx);
  EXPECT_EQ(ctx.compiled_pipeline_count(), with_add);
  {
    vk::Stream s(ctx);
    add.run(s, yb, yb, xb, n);
    s.submit_and_wait();
  }
  const auto x = vk::download_all<float>(ctx, xb, n);
  for (uint32_t j = 0; j < n; ++j) ASSERT_EQ(x[j], y[j] + y[j]) << "element " << j;
  EXPECT_EQ(ctx.validation_message_count(), 0u);
}

TEST(PipelineCache, PersistsToTheUserCacheDirectory) {
  const auto dir = std::filesystem::temp_directory_path() / ("vkq-cache-" + std::to_string(::getpid()));
  ::setenv("VKQ_CACHE_DIR", dir.c_str(), 1);
  {
    vk::ContextOptions o;
    vk::Context ctx(o);
    vk::Kernel k(ctx, vk::KernelDesc{"gram_finalize", 3, 8, {256}});
  }
  ::unsetenv("VKQ_CACHE_DIR");
  bool found = false;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    found |= e.path().filename().string().rfind("pipelines-", 0) == 0 && std::filesystem::file_size(e.path()) > 0;
  EXPECT_TRUE(found);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace vkq
