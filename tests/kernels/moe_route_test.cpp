// moe_route and row_weights vs their float64 references: awkward token and expert counts, every top-k from 1 to
// all experts, exact ties (the lower index wins), poisoned outputs, and the mask's exact zeros.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <tuple>

#include "kernels/moe_route.hpp"
#include "kernels/row_weights.hpp"
#include "reference/moe_ref.hpp"
#include "support/test_seed.hpp"
#include "support/vk_test_env.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq {
namespace {

// Logits whose probabilities never nearly tie (distinct values at least 0.05 apart, shuffled per token), so the
// fp32 kernel and the float64 reference choose the same experts.
std::vector<float> separated_logits(std::mt19937_64& rng, uint32_t tokens, uint32_t experts) {
  std::vector<float> l(size_t(tokens) * experts);
  std::uniform_real_distribution<float> shift(-3.f, 3.f);
  std::vector<float> row(experts);
  for (uint32_t t = 0; t < tokens; ++t) {
    const float s = shift(rng);
    for (uint32_t e = 0; e < experts; ++e) row[e] = s + 0.05f * float(e) * (e % 3 == 0 ? 7.f : 1.f);
    std::shuffle(row.begin(), row.end(), rng);
    std::copy(row.begin(), row.end(), l.begin() + ptrdiff_t(size_t(t) * experts));
  }
  return l;
}

class MoeRouteShapes : public testing::TestWithParam<std::tuple<uint32_t, uint32_t>> {};

TEST_P(MoeRouteShapes, MatchesReferenceForEveryTopK) {
  const auto [tokens, experts] = GetParam();
  const uint64_t seed = test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  auto& ctx = test::vk_context();
  const auto logits = separated_logits(rng, tokens, experts);
  const std::vector<double> ld(logits.begin(), logits.end());
  auto lb = vk::upload_new(ctx, logits, "logits");
  kernels::MoeRoute k(ctx);
  for (uint32_t used = 1; used <= experts; used += (experts > 8 ? 5 : 1)) {
    for (auto [normalize, scale] : {std::tuple{true, 0.0f}, std::tuple{false, 2.5f}}) {
      SCOPED_TRACE(testing::Message() << "used " << used << " normalize " << normalize << " scale " << scale);
      auto rb = vk::upload_new(ctx, test::poisoned(size_t(tokens) * experts + 5), "route");
      vk::Stream s(ctx);
      k.run(s, lb, rb, {tokens, experts, used, normalize, scale});
      s.submit_and_wait();
      const auto got = vk::download_all<float>(ctx, rb, size_t(tokens) * experts + 5);
      const auto want = ref::moe_route_ref(ld, tokens, experts, used, normalize, scale);
      for (size_t i = 0; i < want.size(); ++i) {
        if (want[i] == 0.0) {
          ASSERT_EQ(got[i], 0.0f) << "token " << i / experts << " expert " << i % experts << " is not chosen";
        } else {
          // GLSL's exp(x) is exact to 3 + 2|x| ulps: with the row's spread r of logits, a weight (exp, a sum and two
          // divisions) is within (8 + 2r) ulps.
          const auto row = ld.begin() + ptrdiff_t(i / experts * experts);
          const double spread = *std::max_element(row, row + experts) - *std::min_element(row, row + experts);
          ASSERT_NEAR(got[i], want[i], (8 + 2 * spread) * 0x1p-23 * std::fabs(want[i]))
              << "token " << i / experts << " expert " << i % experts;
        }
      }
      for (size_t i = want.size(); i < got.size(); ++i) EXPECT_TRUE(std::isnan(got[i])) << "wrote past the end";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, MoeRouteShapes,
                         testing::Values(std::tuple{1u, 1u}, std::tuple{7u, 8u}, std::tuple{65u, 3u},
                                         std::tuple{130u, 64u}, std::tuple{3u, 70u}));

// Equal logits: every expert equally likely, so the lower indices are chosen, each with weight 1/used.
TEST(MoeRoute, TiesGoToTheLowerIndex) {
  auto& ctx = test::vk_context();
  const uint32_t tokens = 3, experts = 6, used = 2;
  auto lb = vk::upload_new(ctx, std::vector<float>(tokens * experts, 0.25f), "logits");
  auto rb = vk::upload_new(ctx, test::poisoned(tokens * experts), "route");
  kernels::MoeRoute k(ctx);
  vk::Stream s(ctx);
  k.run(s, lb, rb, {tokens, experts, used, true, 0.0f});
  s.submit_and_wait();
  const auto got = vk::download_all<float>(ctx, rb, tokens * experts);
  for (uint32_t t = 0; t < tokens; ++t)
    for (uint32_t e = 0; e < experts; ++e) EXPECT_EQ(got[t * experts + e], e < used ? 0.5f : 0.0f) << t << "," << e;
  EXPECT_THROW(k.run(s, lb, rb, {tokens, experts, 0, true, 0.0f}), Error);           // no expert
  EXPECT_THROW(k.run(s, lb, rb, {tokens, experts, experts + 1, true, 0.0f}), Error); // more than there are
  EXPECT_THROW(k.run(s, lb, rb, {tokens + 1, experts, used, true, 0.0f}), Error);    // buffers too small
}

class RowWeightShapes : public testing::TestWithParam<std::tuple<uint32_t, uint32_t, uint32_t>> {};

TEST_P(RowWeightShapes, ScaleAccumulateAndMaskMatchReference) {
  const auto [tokens, cols, experts] = GetParam();
  const uint64_t seed = test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  auto& ctx = test::vk_context();
  const auto x = test::random_floats(rng, size_t(tokens) * cols);
  auto w = test::random_floats(rng, size_t(tokens) * experts, 0.f, 1.f);
  for (size_t i = 0; i < w.size(); i += 2) w[i] = 0.0f;  // unrouted pairs
  const auto base = test::random_floats(rng, size_t(tokens) * cols);
  const std::vector<double> xd(x.begin(), x.end()), wd(w.begin(), w.end());
  auto xb = vk::upload_new(ctx, x, "x");
  auto wb = vk::upload_new(ctx, w, "w");
  kernels::RowWeights k(ctx);
  const uint32_t e = experts - 1;
  const kernels::RowWeightShape sh{tokens, cols, experts, e};
  auto scaled = vk::upload_new(ctx, test::poisoned(x.size()), "scaled");
  auto accumulated = vk::upload_new(ctx, base, "accumulated");
  auto masked = vk::upload_new(ctx, test::poisoned(x.size()), "masked");
  vk::Stream s(ctx);
  k.scale(s, xb, wb, scaled, sh, false);
  k.scale(s, xb, wb, accumulated, sh, true);
  k.mask(s, xb, wb, masked, sh);
  s.submit_and_wait();
  std::vector<double> want_scaled, want_acc(base.begin(), base.end()), want_mask;
  ref::row_weights_ref(xd, wd, tokens, cols, experts, e, false, false, want_scaled);
  ref::row_weights_ref(xd, wd, tokens, cols, experts, e, true, false, want_acc);
  ref::row_weights_ref(xd, wd, tokens, cols, experts, e, false, true, want_mask);
  const auto gs = vk::download_all<float>(ctx, scaled, x.size());
  const auto ga = vk::download_all<float>(ctx, accumulated, x.size());
  const auto gm = vk::download_all<float>(ctx, masked, x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    ASSERT_NEAR(gs[i], want_scaled[i], 6e-8 * std::fabs(want_scaled[i])) << i;  // one fp32 product
    ASSERT_NEAR(ga[i], want_acc[i], 1.2e-7 * (std::fabs(want_acc[i]) + std::fabs(base[i]))) << i;
    ASSERT_EQ(double(gm[i]), want_mask[i]) << i;  // a copy or an exact 0
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, RowWeightShapes,
                         testing::Values(std::tuple{1u, 1u, 1u}, std::tuple{7u, 33u, 8u}, std::tuple{129u, 64u, 3u},
                                         std::tuple{300u, 257u, 64u}));

TEST(RowWeights, RejectsAColumnOutsideTheWeights) {
  auto& ctx = test::vk_context();
  auto b = vk::upload_new(ctx, std::vector<float>(64, 1.f), "b");
  kernels::RowWeights k(ctx);
  vk::Stream s(ctx);
  EXPECT_THROW(k.mask(s, b, b, b, {4, 4, 4, 4}), Error);
  EXPECT_THROW(k.scale(s, b, b, b, {8, 16, 4, 0}, false), Error);  // 128 values do not fit 64
}

}  // namespace
}  // namespace vkq
