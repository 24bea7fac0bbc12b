// regularize_gram + extract_diagonal vs reference/regularize.cpp: dead columns, μ, saliency
// unit/hdiag/act/act2, act-order permutation (stable on ties), awkward n, poisoned output.
#include <gtest/gtest.h>

#include <random>

#include "kernels/regularize_gram.hpp"
#include "reference/regularize.hpp"
#include "support/test_seed.hpp"
#include "support/vk_test_env.hpp"

namespace vkq {
namespace {

using test::vk_context;

// Gram of m random tokens, rounded to fp32; `dead` columns are exactly zero rows and columns.
std::vector<float> random_gram(std::mt19937_64& rng, uint32_t n, uint32_t m, const std::vector<uint32_t>& dead) {
  auto x = test::random_floats(rng, size_t(m) * n);
  for (uint32_t t = 0; t < m; ++t)
    for (uint32_t j : dead) x[size_t(t) * n + j] = 0;
  std::vector<float> h(size_t(n) * n);
  for (uint32_t i = 0; i < n; ++i)
    for (uint32_t j = 0; j <= i; ++j) {
      double s = 0;
      for (uint32_t t = 0; t < m; ++t) s += double(x[size_t(t) * n + i]) * x[size_t(t) * n + j];
      h[size_t(i) * n + j] = h[size_t(j) * n + i] = float(s / m);
    }
  return h;
}

struct Case {
  uint32_t n;
  ref::Saliency saliency;
  double lambda;
  bool act_order;
};

class RegularizeShapes : public testing::TestWithParam<Case> {};

TEST_P(RegularizeShapes, MatchesReference) {
  const Case c = GetParam();
  const uint64_t seed = test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  const uint32_t n = c.n;
  std::vector<uint32_t> dead;
  if (n > 3) dead = {1, n - 1};
  const auto h = random_gram(rng, n, n + 5, dead);
  std::vector<double> mean_abs(n);
  for (auto& v : mean_abs) v = std::uniform_real_distribution<double>(0.0, 2.0)(rng);

  // Reference in the order of reference/layer_quant.cpp.
  std::vector<double> hd(h.begin(), h.end());
  const auto dead_ref = ref::fix_dead_columns(hd, n);
  const double mu = ref::diag_mean(hd, n);
  const auto shat = c.lambda > 0 ? ref::saliency_weights(c.saliency, hd, n, mean_abs) : std::vector<double>{};
  std::vector<size_t> order(n);
  for (uint32_t j = 0; j < n; ++j) order[j] = j;
  if (c.act_order) order = ref::act_order_permutation(hd, n);
  const double delta = 0.01;
  const auto want = ref::permute_symmetric(ref::regularized_gram(hd, n, mu, delta, c.lambda, shat), n, order);

  auto& ctx = vk_context();
  kernels::RegularizeGram reg(ctx);
  vk::Stream s(ctx);
  auto hb = vk::upload_new(ctx, h, "H");
  kernels::RegularizeOptions o;
  o.lambda = c.lambda, o.saliency = c.saliency, o.channel_mean_abs = mean_abs, o.act_order = c.act_order;
  const auto plan = kernels::plan_regularization(reg.diagonal(s, hb, n), o);
  ASSERT_EQ(plan.dead.size(), dead_ref.size());
  for (size_t i = 0; i < dead_ref.size(); ++i) EXPECT_EQ(plan.dead[i], dead_ref[i]);
  EXPECT_DOUBLE_EQ(plan.mu, mu);
  for (uint32_t p = 0; p < n; ++p) ASSERT_EQ(plan.order[p], order[p]) << "position " << p;
  auto ob = vk::upload_new(ctx, test::poisoned(size_t(n) * n), "H̃");
  const auto in = kernels::upload_regularization(ctx, plan, delta);
  reg.run(s, hb, in, ob);
  s.submit_and_wait();
  const auto got = vk::download_all<float>(ctx, ob, size_t(n) * n);
  // Off the diagonal a pure gather; the diagonal is the float64 value rounded once to fp32
  // (≤ 2^-24 relative), so one fp32 ulp (2^-23 ≈ 1.2e-7) per element.
  EXPECT_LE(test::max_rel_error(got, want), 1.2e-7);
  for (size_t i = 0; i < got.size(); ++i)
    ASSERT_NEAR(got[i], want[i], 1.2e-7 * std::abs(want[i])) << "element " << i;
}

INSTANTIATE_TEST_SUITE_P(
    Awkward, RegularizeShapes,
    testing::Values(Case{1, ref::Saliency::unit, 0, false}, Case{7, ref::Saliency::unit, 0, true},
                    Case{33, ref::Saliency::hdiag, 0.1, true}, Case{127, ref::Saliency::act, 0.5, false},
                    Case{129, ref::Saliency::act2, 0.05, true}, Case{129, ref::Saliency::unit, 1.0, true},
                    Case{300, ref::Saliency::hdiag, 0.02, true}));

TEST(RegularizeGram, ActOrderIsStableOnTies) {
  // Diagonal 2, 5, 2, 5, 1, 5: descending with ties in column order → 1, 3, 5, 0, 2, 4.
  const uint32_t n = 6;
  std::vector<float> h(n * n, 0.f);
  const float d[n] = {2, 5, 2, 5, 1, 5};
  for (uint32_t j = 0; j < n; ++j) h[j * n + j] = d[j];
  h[0 * n + 1] = h[1 * n + 0] = 0.5f;
  h[4 * n + 5] = h[5 * n + 4] = -0.25f;
  auto& ctx = vk_context();
  kernels::RegularizeGram reg(ctx);
  vk::Stream s(ctx);
  auto hb = vk::upload_new(ctx, h, "H");
  kernels::RegularizeOptions o;
  o.act_order = true;
  const auto plan = kernels::plan_regularization(reg.diagonal(s, hb, n), o);
  const std::vector<uint32_t> want_order = {1, 3, 5, 0, 2, 4};
  EXPECT_EQ(plan.order, want_order);
  auto ob = vk::upload_new(ctx, test::poisoned(n * n), "H̃");
  const auto in = kernels::upload_regularization(ctx, plan, 0.0);  // alive until submitted
  reg.run(s, hb, in, ob);
  s.submit_and_wait();
  const auto got = vk::download_all<float>(ctx, ob, n * n);
  for (uint32_t p = 0; p < n; ++p)
    for (uint32_t q = 0; q < n; ++q) EXPECT_EQ(got[p * n + q], h[want_order[p] * n + want_order[q]]) << p << "," << q;
}

TEST(RegularizeGram, LargeLambdaMakesTheDiagonalDominate) {
  const uint64_t seed = test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  const uint32_t n = 40;
  const auto h = random_gram(rng, n, 60, {});
  auto& ctx = vk_context();
  kernels::RegularizeGram reg(ctx);
  vk::Stream s(ctx);
  auto hb = vk::upload_new(ctx, h, "H");
  kernels::RegularizeOptions o;
  o.lambda = 1e6, o.saliency = ref::Saliency::hdiag;
  const auto plan = kernels::plan_regularization(reg.diagonal(s, hb, n), o);
  auto ob = vk::upload_new(ctx, test::poisoned(n * n), "H̃");
  const auto in = kernels::upload_regularization(ctx, plan, 0.01);
  reg.run(s, hb, in, ob);
  s.submit_and_wait();
  const auto got = vk::download_all<float>(ctx, ob, n * n);
  for (uint32_t i = 0; i < n; ++i) {
    // H̃_ii ≈ μ λ ŝ_i = λ H_ii (ŝ = H_ii / μ): every |H̃_ij| ≤ √(H_ii H_jj) is ≤ 1e-5 of it.
    EXPECT_NEAR(got[i * n + i] / (o.lambda * h[i * n + i]), 1.0, 1e-5);
    for (uint32_t j = 0; j < n; ++j)
      if (j != i) {
        EXPECT_LT(std::abs(got[i * n + j]), 1e-5 * got[i * n + i]);
      }
  }
}

TEST(RegularizeGram, RejectsBadSaliencyInputs) {
  kernels::RegularizeOptions o;
  o.lambda = 0.1, o.saliency = ref::Saliency::act;
  EXPECT_THROW(kernels::plan_regularization({1.f, 2.f, 3.f}, o), Error);  // no mean|x|
  o.channel_mean_abs = {1.0, -1.0, 0.5};
  EXPECT_THROW(kernels::plan_regularization({1.f, 2.f, 3.f}, o), Error);  // negative mean|x|
  o.channel_mean_abs = {0.0, 0.0, 0.0};
  EXPECT_THROW(kernels::plan_regularization({1.f, 2.f, 3.f}, o), Error);  // mean(s) = 0
  o.lambda = 0;  // saliency unused without λ, as the reference
  EXPECT_NO_THROW(kernels::plan_regularization({1.f, 2.f, 3.f}, o));
}

TEST(RegularizeGram, RejectsAliasingAndShortBuffers) {
  auto& ctx = vk_context();
  kernels::RegularizeGram reg(ctx);
  vk::Stream s(ctx);
  kernels::RegularizeOptions o;
  const auto plan = kernels::plan_regularization(std::vector<float>(8, 1.f), o);
  const auto in = kernels::upload_regularization(ctx, plan, 0.01);
  vk::Buffer h(ctx, 64 * 4, vk::MemoryUse::Device, "H");
  vk::Buffer small(ctx, 63 * 4, vk::MemoryUse::Device, "small");
  EXPECT_THROW(reg.run(s, h, in, h), Error);
  EXPECT_THROW(reg.run(s, h, in, small), Error);
  EXPECT_THROW(reg.run(s, small, in, h), Error);
}

}  // namespace
}  // namespace vkq
