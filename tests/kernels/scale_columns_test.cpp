// scale_columns (A ∘ s, A ⊘ s, minus B; zero multipliers) vs a float64 loop: awkward shapes,
// sub-matrix offsets and strides, elements outside the block untouched.
#include <gtest/gtest.h>

#include <random>

#include "kernels/scale_columns.hpp"
#include "support/test_seed.hpp"
#include "support/vk_test_env.hpp"

namespace vkq {
namespace {

using test::vk_context;

class ScaleColumnsShapes : public testing::TestWithParam<std::tuple<uint32_t, uint32_t, int>> {};

TEST_P(ScaleColumnsShapes, MatchesReference) {
  auto [m, n, mode] = GetParam();
  const bool divide = mode & 1, minus = mode & 2;
  const uint64_t seed = test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  auto& ctx = vk_context();
  // A is an m × n block at offset 3 with row stride n + 2 inside a larger buffer.
  const uint32_t lda = n + 2, off = 3;
  auto a = test::random_floats(rng, size_t(off) + size_t(m) * lda);
  auto s = test::random_floats(rng, n, 0.5f, 2.0f);
  if (!divide && n > 2) s[1] = 0.0f;  // a zero multiplier writes an exact 0 (the dead-column mask)
  auto b = test::random_floats(rng, size_t(m) * n);
  auto ab = vk::upload_new(ctx, a, "A");
  auto sb = vk::upload_new(ctx, s, "s");
  auto bb = vk::upload_new(ctx, b, "B");
  kernels::ColumnScale scale(ctx);
  kernels::ColumnScaleShape sh;
  sh.m = m, sh.n = n, sh.lda = lda, sh.a_offset = off, sh.divide = divide;
  vk::Stream st(ctx);
  if (minus) scale.run_minus(st, ab, sb, bb, sh);
  else scale.run(st, ab, sb, sh);
  st.submit_and_wait();
  const auto got = vk::download_all<float>(ctx, ab, a.size());
  for (size_t e = 0; e < a.size(); ++e) {
    const bool inside = e >= off && (e - off) % lda < n;
    if (!inside) {
      ASSERT_EQ(got[e], a[e]) << "element " << e << " outside the block was written";
      continue;
    }
    const size_t i = (e - off) / lda, j = (e - off) % lda;
    double want = divide ? double(a[e]) / s[j] : double(a[e]) * s[j];
    if (minus) want -= b[i * n + j];
    // One fp32 rounding per operation (≤ 2^-24 relative) on operands up to |a|/min s = 2|a|: 2.4e-7 of their sum.
    ASSERT_NEAR(got[e], want, 2.4e-7 * (std::abs(want) + std::abs(double(a[e]) / 0.5) + 1)) << "(" << i << ", " << j << ")";
    if (!divide && !minus && s[j] == 0.0f) {
      ASSERT_EQ(got[e], 0.0f);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Awkward, ScaleColumnsShapes,
                         testing::Combine(testing::Values(1u, 7u, 33u), testing::Values(1u, 7u, 129u),
                                          testing::Values(0, 1, 2, 3)));

TEST(ScaleColumns, RejectsBadOperands) {
  auto& ctx = vk_context();
  kernels::ColumnScale scale(ctx);
  vk::Buffer a(ctx, 64 * 64 * 4, vk::MemoryUse::Device, "A");
  vk::Buffer small(ctx, 10 * 4, vk::MemoryUse::Device, "small");
  vk::Stream st(ctx);
  kernels::ColumnScaleShape sh;
  sh.m = 64, sh.n = 64;
  EXPECT_THROW(scale.run(st, a, small, sh), Error);            // s has 10 entries, not 64
  EXPECT_THROW(scale.run(st, small, a, sh), Error);            // A does not fit
  EXPECT_THROW(scale.run_minus(st, a, a, small, sh), Error);  // B does not fit
}

}  // namespace
}  // namespace vkq
