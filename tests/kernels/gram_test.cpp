// gram_accumulate + channel_stats + gram_finalize vs the float64 reference: awkward widths,
// fp32 and fp16 inputs, several chunks, poisoned H, and 100k-token accuracy (1e-5 relative).
#include <gtest/gtest.h>

#include <cstdlib>
#include <random>

#include "common/float16.hpp"
#include "kernels/gram.hpp"
#include "reference/gram_ref.hpp"
#include "support/test_seed.hpp"
#include "support/vk_test_env.hpp"

namespace vkq {
namespace {

using test::vk_context;

double max_rel(const std::vector<double>& got, const std::vector<double>& want) {
  double num = 0, den = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (!std::isfinite(got[i])) return INFINITY;
    num = std::max(num, std::abs(got[i] - want[i]));
    den = std::max(den, std::abs(want[i]));
  }
  return num / den;
}

struct GramRun {
  std::vector<float> h_device;  // finalize() output
  std::vector<double> h_host;
  kernels::ChannelStats stats;
};

// Forces one form of the kernel for the lifetime of the object (both run on every device).
struct ScopedVariant {
  explicit ScopedVariant(const char* v) { ::setenv("VKQ_GRAM_VARIANT", v, 1); }
  ~ScopedVariant() { ::unsetenv("VKQ_GRAM_VARIANT"); }
};

GramRun run_gram(uint32_t n, const std::vector<float>& x, uint32_t tokens, bool f16, uint32_t calls,
                 const char* variant = "tiled") {
  ScopedVariant forced(variant);
  auto& ctx = vk_context();
  vk::Buffer xb;
  if (f16) {
    std::vector<uint16_t> h(x.size());
    for (size_t i = 0; i < x.size(); ++i) h[i] = float_to_half(x[i]);
    xb = vk::upload_new(ctx, h, "X f16");
  } else {
    xb = vk::upload_new(ctx, x, "X");
  }
  kernels::GramAccumulator g(ctx, n);
  vk::Buffer hb = vk::upload_new(ctx, test::poisoned(size_t(n) * n), "H");
  vk::Stream s(ctx);
  g.reset(s);
  // Split into `calls` accumulate() calls at uneven offsets (fp16 offsets may be odd).
  uint32_t done = 0;
  for (uint32_t c = 0; c < calls; ++c) {
    const uint32_t cnt = c + 1 == calls ? tokens - done : (tokens / calls) + (c % 2);
    g.accumulate(s, xb, cnt, f16 ? kernels::ActivationType::F16 : kernels::ActivationType::F32, uint64_t(done) * n);
    done += cnt;
  }
  g.finalize(s, hb);
  s.submit_and_wait();
  return {vk::download_all<float>(ctx, hb, size_t(n) * n), g.hessian_host(), g.channel_stats_host()};
}

class GramShapes : public testing::TestWithParam<std::tuple<uint32_t, uint32_t, bool, const char*>> {};

TEST_P(GramShapes, MatchesReference) {
  auto [n, tokens, f16, variant] = GetParam();
  const uint64_t seed = test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  auto x = test::random_floats(rng, size_t(n) * tokens, -2.f, 2.f);
  if (f16)
    for (auto& v : x) v = round_to_half(v);  // the reference sees the same fp16 values
  ref::GramRef want(n);
  want.accumulate(x.data(), tokens);
  auto got = run_gram(n, x, tokens, f16, 3, variant);
  EXPECT_LE(max_rel(got.h_host, want.hessian()), 1e-6);
  const auto h_ref = want.hessian();
  EXPECT_LE(test::max_rel_error(got.h_device, h_ref), 1e-6);
  EXPECT_EQ(got.stats.tokens, tokens);
  EXPECT_LE(max_rel(got.stats.mean_abs, want.mean_abs()), 1e-6);
  EXPECT_LE(max_rel(got.stats.mean_sq, want.mean_sq()), 1e-6);
  // The result is exactly symmetric: mirrored tiles store the same value.
  for (uint32_t i = 0; i < n; ++i)
    for (uint32_t j = 0; j < i; ++j) ASSERT_EQ(got.h_device[i * n + j], got.h_device[j * n + i]);
}

INSTANTIATE_TEST_SUITE_P(Awkward, GramShapes,
                         testing::Combine(testing::Values(1u, 7u, 33u, 127u, 129u), testing::Values(5u, 2500u),
                                          testing::Bool(), testing::Values("tiled")));
// The CPU-device form reads 4 channels at once: widths that are multiples of 4, odd token counts.
INSTANTIATE_TEST_SUITE_P(CpuForm, GramShapes,
                         testing::Combine(testing::Values(4u, 12u, 64u, 172u, 260u), testing::Values(5u, 2500u),
                                          testing::Bool(), testing::Values("cpu")));

TEST(Gram, HundredThousandTokensWithinOneInHundredThousand) {
  // Positive-mean data is the hard case for fp32 sums: every term has the same sign.
  const uint64_t seed = test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  const uint32_t n = 36, tokens = 100000;
  auto x = test::random_floats(rng, size_t(n) * tokens, 0.5f, 1.5f);
  ref::GramRef want(n);
  want.accumulate(x.data(), tokens);
  for (const char* variant : {"tiled", "cpu"}) {
    auto got = run_gram(n, x, tokens, false, 1, variant);
    EXPECT_LE(test::max_rel_error(got.h_device, want.hessian()), 1e-5) << variant;
    EXPECT_LE(max_rel(got.h_host, want.hessian()), 1e-6) << variant;
    EXPECT_LE(max_rel(got.stats.mean_abs, want.mean_abs()), 1e-6) << variant;
  }
}

TEST(Gram, RejectsChunkLargerThanBuffer) {
  auto& ctx = vk_context();
  kernels::GramAccumulator g(ctx, 16);
  vk::Buffer x(ctx, 16 * 4 * 10, vk::MemoryUse::Device, "activations");
  vk::Stream s(ctx);
  EXPECT_THROW(g.accumulate(s, x, 11, kernels::ActivationType::F32), Error);
  EXPECT_NO_THROW(g.accumulate(s, x, 20, kernels::ActivationType::F16));
  EXPECT_THROW(g.finalize(s, x), Error);  // 10x16 floats cannot hold a 16x16 H
}

}  // namespace
}  // namespace vkq
