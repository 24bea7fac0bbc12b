// swiglu vs the float64 reference over awkward lengths (including gates far in the tails, where
// exp overflows), poisoned output, and in place (out = gate).
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "kernels/swiglu.hpp"
#include "reference/elementwise_ref.hpp"
#include "support/test_seed.hpp"
#include "support/vk_test_env.hpp"

namespace vkq {
namespace {

class SwigluSizes : public testing::TestWithParam<uint32_t> {};

TEST_P(SwigluSizes, MatchesReference) {
  const uint32_t n = GetParam();
  const uint64_t seed = test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  auto& ctx = test::vk_context();
  auto g = test::random_floats(rng, n, -12, 12);
  if (n > 2) g[0] = -100.f, g[1] = 100.f;  // exp(-g) overflows / underflows
  auto u = test::random_floats(rng, n, -3, 3);
  auto gb = vk::upload_new(ctx, g, "gate");
  auto ub = vk::upload_new(ctx, u, "up");
  auto ob = vk::upload_new(ctx, test::poisoned(n), "out");
  kernels::Swiglu k(ctx);
  vk::Stream s(ctx);
  k.run(s, gb, ub, ob, n);
  s.barrier();
  k.run(s, gb, ub, gb, n);  // in place
  s.submit_and_wait();
  auto want = ref::swiglu_ref(std::vector<double>(g.begin(), g.end()), std::vector<double>(u.begin(), u.end()));
  // One fp32 exp, divide and multiply per element: a few ulps of the largest output.
  EXPECT_LT(test::max_rel_error(vk::download_all<float>(ctx, ob, n), want), 1e-6);
  EXPECT_LT(test::max_rel_error(vk::download_all<float>(ctx, gb, n), want), 1e-6);
}

INSTANTIATE_TEST_SUITE_P(Sizes, SwigluSizes, testing::Values(1u, 7u, 33u, 127u, 129u, 100003u));

// Gemma's GeGLU: GELU with the tanh approximation, including gates far in the tails (tanh → ±1) and
// ones whose cube overflows fp32.
TEST(Geglu, MatchesReference) {
  const uint64_t seed = test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  auto& ctx = test::vk_context();
  const uint32_t n = 4099;
  auto g = test::random_floats(rng, n, -8, 8);
  g[0] = -100.f, g[1] = 100.f, g[2] = 3e13f, g[3] = -3e13f, g[4] = 0.f;
  auto u = test::random_floats(rng, n, -3, 3);
  u[2] = u[3] = 1e-20f;  // keeps the expected product finite
  auto gb = vk::upload_new(ctx, g, "gate");
  auto ub = vk::upload_new(ctx, u, "up");
  auto ob = vk::upload_new(ctx, test::poisoned(n), "out");
  kernels::Swiglu k(ctx, kernels::GatedActivation::GeluTanh);
  vk::Stream s(ctx);
  k.run(s, gb, ub, ob, n);
  s.submit_and_wait();
  auto want = ref::geglu_tanh_ref(std::vector<double>(g.begin(), g.end()), std::vector<double>(u.begin(), u.end()));
  const auto got = vk::download_all<float>(ctx, ob, n);
  // fp32 polynomial, exp, divide and multiply: a few ulps of the largest output, as SwiGLU.
  EXPECT_LT(test::max_rel_error(got, want), 1e-6);
  // The tails reach their limits exactly: 0 far left, g·u far right, no inf/inf or NaN.
  EXPECT_EQ(got[0], 0.0f);
  EXPECT_EQ(got[1], 100.f * u[1]);
  EXPECT_EQ(got[2], 3e13f * u[2]);
  EXPECT_EQ(got[3], 0.0f);
  EXPECT_EQ(got[4], 0.0f);
  // Not SiLU: the two activations differ clearly at g = 1.
  EXPECT_GT(std::fabs(want[5] - ref::swiglu_ref({g[5]}, {u[5]})[0]), 0.0);
}

}  // namespace
}  // namespace vkq
