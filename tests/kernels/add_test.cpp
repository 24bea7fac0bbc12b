// add vs the float64 reference: awkward lengths, poisoned output, and in place (out = a).
#include <gtest/gtest.h>

#include <random>

#include "kernels/add.hpp"
#include "reference/elementwise_ref.hpp"
#include "support/test_seed.hpp"
#include "support/vk_test_env.hpp"

namespace vkq {
namespace {

class AddSizes : public testing::TestWithParam<uint32_t> {};

TEST_P(AddSizes, MatchesReference) {
  const uint32_t n = GetParam();
  const uint64_t seed = test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  auto& ctx = test::vk_context();
  auto a = test::random_floats(rng, n);
  auto b = test::random_floats(rng, n);
  auto ab = vk::upload_new(ctx, a, "a");
  auto bb = vk::upload_new(ctx, b, "b");
  auto ob = vk::upload_new(ctx, test::poisoned(n), "out");
  kernels::Add k(ctx);
  vk::Stream s(ctx);
  k.run(s, ab, bb, ob, n);
  s.barrier();
  k.run(s, ab, bb, ab, n);  // in place, as the residual stream uses it
  s.submit_and_wait();
  auto want = ref::add_ref(std::vector<double>(a.begin(), a.end()), std::vector<double>(b.begin(), b.end()));
  // One correctly rounded fp32 addition: half an ulp of the largest sum.
  EXPECT_LT(test::max_rel_error(vk::download_all<float>(ctx, ob, n), want), 1.2e-7);
  EXPECT_LT(test::max_rel_error(vk::download_all<float>(ctx, ab, n), want), 1.2e-7);
}

INSTANTIATE_TEST_SUITE_P(Sizes, AddSizes, testing::Values(1u, 7u, 33u, 127u, 129u, 4194305u));

}  // namespace
}  // namespace vkq
