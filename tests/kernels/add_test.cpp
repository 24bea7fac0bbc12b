// add vs the float64 reference: awkward lengths, poisoned output, and in place (out = a).
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <tuple>

#include "kernels/add.hpp"
#include "reference/elementwise_ref.hpp"
#include "support/test_seed.hpp"
#include "support/vk_test_env.hpp"
#include "vkquant/vkquant.hpp"

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

// A bias on every row of a rows × cols block at an element offset (a KV-cache slot), in place; the
// elements before and after the block are untouched.
TEST(AddRowBias, MatchesReferenceAtAnOffset) {
  const uint64_t seed = test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  auto& ctx = test::vk_context();
  for (auto [rows, cols, off] : {std::tuple{1u, 1u, 0u}, std::tuple{7u, 33u, 5u}, std::tuple{129u, 64u, 128u}}) {
    auto x = test::random_floats(rng, size_t(off) + size_t(rows) * cols + 3);
    auto bias = test::random_floats(rng, cols);
    auto xb = vk::upload_new(ctx, x, "x");
    auto bb = vk::upload_new(ctx, bias, "bias");
    kernels::Add k(ctx);
    vk::Stream s(ctx);
    k.add_row_bias(s, xb, bb, rows, cols, off);
    s.submit_and_wait();
    const auto got = vk::download_all<float>(ctx, xb, x.size());
    for (size_t e = 0; e < x.size(); ++e) {
      const bool inside = e >= off && e < off + size_t(rows) * cols;
      const double want = inside ? double(x[e]) + bias[(e - off) % cols] : double(x[e]);
      ASSERT_NEAR(got[e], want, 1.2e-7 * (std::fabs(want) + std::fabs(x[e]))) << rows << "x" << cols << " element " << e;
    }
  }
  kernels::Add k(ctx);
  auto small = vk::upload_new(ctx, std::vector<float>(8, 0.f), "small");
  vk::Stream s(ctx);
  EXPECT_THROW(k.add_row_bias(s, small, small, 3, 4), Error);  // 12 elements do not fit in 8
}

}  // namespace
}  // namespace vkq
