// swiglu vs the float64 reference over awkward lengths (including gates far in the tails, where
// exp overflows), poisoned output, and in place (out = gate).
#include <gtest/gtest.h>

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

}  // namespace
}  // namespace vkq
