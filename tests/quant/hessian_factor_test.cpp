// prepare_hessian vs reference/cholesky.cpp factor_with_damping (driven the way
// reference/layer_quant.cpp drives it): H̃ and U in processing order, dead columns, act-order,
// saliency, damping escalation on nearly singular and indefinite H, and the final error.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <random>

#include "quant/hessian_factor.hpp"
#include "reference/cholesky.hpp"
#include "reference/regularize.hpp"
#include "support/test_seed.hpp"
#include "support/vk_test_env.hpp"

namespace vkq {
namespace {

using test::vk_context;
constexpr double kEps32 = 1.1920929e-7;

// (1/m) XᵀX over m random tokens, rounded to fp32; `dead` columns are exactly zero.
std::vector<float> random_gram(std::mt19937_64& rng, uint32_t n, uint32_t m, const std::vector<uint32_t>& dead = {}) {
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

struct RefPrepared {
  ref::DampedCholesky f;
  std::vector<size_t> order, dead;
  double kappa = 0;  // ‖H̃‖₁‖H̃⁻¹‖₁ at the damping that succeeded
};

RefPrepared reference_prepare(const std::vector<float>& h, uint32_t n, const quant::HessianOptions& o) {
  RefPrepared r;
  std::vector<double> hd(h.begin(), h.end());
  r.dead = ref::fix_dead_columns(hd, n);
  const double mu = ref::diag_mean(hd, n);
  const auto shat = o.lambda > 0 ? ref::saliency_weights(o.saliency, hd, n, o.channel_mean_abs) : std::vector<double>{};
  r.order.resize(n);
  std::iota(r.order.begin(), r.order.end(), size_t(0));
  if (o.act_order) r.order = ref::act_order_permutation(hd, n);
  r.f = ref::factor_with_damping(n, o.damp, [&](double delta) {
    return ref::permute_symmetric(ref::regularized_gram(hd, n, mu, delta, o.lambda, shat), n, r.order);
  });
  auto norm1 = [n](const std::vector<double>& a) {
    double best = 0;
    for (uint32_t j = 0; j < n; ++j) {
      double s = 0;
      for (uint32_t i = 0; i < n; ++i) s += std::abs(a[size_t(i) * n + j]);
      best = std::max(best, s);
    }
    return best;
  };
  r.kappa = norm1(r.f.h_reg) * norm1(ref::cholesky_inverse(r.f.l, n));
  return r;
}

struct Case {
  uint32_t n;
  bool act_order;
  double lambda;
  ref::Saliency saliency;
};

class HessianShapes : public testing::TestWithParam<Case> {};

TEST_P(HessianShapes, MatchesReference) {
  const Case c = GetParam();
  const uint64_t seed = test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  const uint32_t n = c.n;
  std::vector<uint32_t> dead;
  if (n > 4) dead = {0, n / 2};
  const auto h = random_gram(rng, n, n / 2 + 3, dead);
  quant::HessianOptions o;
  o.act_order = c.act_order, o.lambda = c.lambda, o.saliency = c.saliency;
  o.channel_mean_abs.resize(n);
  for (auto& v : o.channel_mean_abs) v = std::uniform_real_distribution<double>(0.1, 1.0)(rng);
  const RefPrepared want = reference_prepare(h, n, o);

  auto& ctx = vk_context();
  auto hb = vk::upload_new(ctx, h, "H");
  const auto got = quant::prepare_hessian(ctx, hb, n, o);
  EXPECT_EQ(got.delta, want.f.delta);
  EXPECT_TRUE(got.retries.empty());
  ASSERT_EQ(got.order.size(), size_t(n));
  for (uint32_t p = 0; p < n; ++p) ASSERT_EQ(got.order[p], want.order[p]);
  ASSERT_EQ(got.dead.size(), want.dead.size());
  for (size_t i = 0; i < want.dead.size(); ++i) EXPECT_EQ(got.dead[i], want.dead[i]);
  // H̃ is a gather plus one fp32 rounding of the float64 diagonal: one fp32 ulp.
  EXPECT_LE(test::max_rel_error(vk::download_all<float>(ctx, got.h_reg, size_t(n) * n), want.f.h_reg), 1.2e-7);
  // U: fp32 triangular factors carry ε·√κ errors (see tests/kernels/cholesky_test.cpp), ×16 margin.
  const double tol = std::max(1e-6, 16 * kEps32 * std::sqrt(want.kappa));
  EXPECT_LE(test::max_rel_error(vk::download_all<float>(ctx, got.u, size_t(n) * n), want.f.u), tol)
      << "kappa " << want.kappa;
  // H itself is left unchanged.
  EXPECT_EQ(vk::download_all<float>(ctx, hb, size_t(n) * n), h);
}

INSTANTIATE_TEST_SUITE_P(Awkward, HessianShapes,
                         testing::Values(Case{1, true, 0, ref::Saliency::unit}, Case{7, false, 0, ref::Saliency::unit},
                                         Case{33, true, 0.1, ref::Saliency::hdiag},
                                         Case{127, true, 0.05, ref::Saliency::act},
                                         Case{129, false, 0.2, ref::Saliency::act2},
                                         Case{257, true, 0.01, ref::Saliency::unit}));

TEST(PrepareHessian, NearlySingularRetriesAndStaysFinite) {
  const uint64_t seed = test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  const uint32_t n = 96;
  const auto h = random_gram(rng, n, 12);  // rank 12
  quant::HessianOptions o;
  o.damp = 1e-9;  // far below fp32 resolution of the zero eigenvalues
  o.label = "blk.3.ffn_down";
  auto& ctx = vk_context();
  auto hb = vk::upload_new(ctx, h, "H");
  const auto got = quant::prepare_hessian(ctx, hb, n, o);
  ASSERT_FALSE(got.retries.empty());
  EXPECT_GT(got.delta, o.damp);
  for (const auto& m : got.retries) EXPECT_NE(m.find("blk.3.ffn_down"), std::string::npos) << m;
  EXPECT_NE(got.retries.front().find("retrying with"), std::string::npos);
  // The δ that fp32 accepted factors in float64 too; U then matches the reference at that δ.
  quant::HessianOptions at = o;
  at.damp = got.delta;
  const RefPrepared want = reference_prepare(h, n, at);
  EXPECT_EQ(want.f.delta, got.delta);
  const auto u = vk::download_all<float>(ctx, got.u, size_t(n) * n);
  for (float v : u) ASSERT_TRUE(std::isfinite(v));
  // A gapped spectrum (12 large eigenvalues, 84 near δμ) is the worst case for fp32: here the
  // error reaches the ε·κ bound's order (fp32 loses ~log10 κ digits), so 2·ε·κ₁.
  EXPECT_LE(test::max_rel_error(u, want.f.u), 2 * kEps32 * want.kappa) << "kappa " << want.kappa;
}

TEST(PrepareHessian, IndefiniteEscalatesLikeTheReference) {
  // H = 11ᵀ + c I has eigenvalues n + c and c (n − 1 times); with c = −0.05 μ the smallest
  // eigenvalue of H̃ is μ(δ − 0.05): negative at δ = 0.01, positive after one retry at δ = 0.1.
  const uint32_t n = 70;
  const double c = -0.05 / 1.05;  // μ = 1 + c, so c = −0.05 μ
  std::vector<float> h(n * n, 1.f);
  for (uint32_t j = 0; j < n; ++j) h[j * n + j] = float(1 + c);
  quant::HessianOptions o;
  o.act_order = false;
  const RefPrepared want = reference_prepare(h, n, o);
  ASSERT_EQ(want.f.retries.size(), 1u);
  auto& ctx = vk_context();
  auto hb = vk::upload_new(ctx, h, "H");
  const auto got = quant::prepare_hessian(ctx, hb, n, o);
  EXPECT_EQ(got.retries.size(), want.f.retries.size());
  EXPECT_DOUBLE_EQ(got.delta, want.f.delta);
  EXPECT_NE(got.retries[0].find("not positive definite"), std::string::npos) << got.retries[0];
  EXPECT_LE(test::max_rel_error(vk::download_all<float>(ctx, got.u, size_t(n) * n), want.f.u),
            std::max(1e-6, 16 * kEps32 * std::sqrt(want.kappa)));
}

TEST(PrepareHessian, GivesUpAfterSixRetriesNamingTheLayer) {
  // Negative diagonal: μ < 0, so every damping makes H̃ more negative.
  const uint32_t n = 5;
  std::vector<float> h(n * n, 0.f);
  for (uint32_t j = 0; j < n; ++j) h[j * n + j] = -1.f;
  quant::HessianOptions o;
  o.label = "blk.0.attn_q";
  auto& ctx = vk_context();
  auto hb = vk::upload_new(ctx, h, "H");
  try {
    quant::prepare_hessian(ctx, hb, n, o);
    FAIL() << "expected vkq::Error";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("blk.0.attn_q"), std::string::npos) << m;
    EXPECT_NE(m.find("after 6 damping retries"), std::string::npos) << m;
    EXPECT_EQ(std::count(m.begin(), m.end(), '\n'), 7) << m;  // one line per attempt
  }
}

TEST(PrepareHessian, NonFiniteGramIsNeverFactored) {
  const uint32_t n = 6;
  std::vector<float> h(n * n, 0.f);
  for (uint32_t j = 0; j < n; ++j) h[j * n + j] = 1.f;
  h[1 * n + 4] = h[4 * n + 1] = std::nanf("");
  auto& ctx = vk_context();
  auto hb = vk::upload_new(ctx, h, "H");
  EXPECT_THROW(quant::prepare_hessian(ctx, hb, n, {}), Error);
}

TEST(PrepareHessian, LargeLambdaGivesANearlyDiagonalU) {
  const uint64_t seed = test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  const uint32_t n = 50;
  const auto h = random_gram(rng, n, 80);
  quant::HessianOptions o;
  o.lambda = 1e6;
  o.saliency = ref::Saliency::hdiag;
  auto& ctx = vk_context();
  auto hb = vk::upload_new(ctx, h, "H");
  const auto got = quant::prepare_hessian(ctx, hb, n, o);
  const auto hr = vk::download_all<float>(ctx, got.h_reg, size_t(n) * n);
  const auto u = vk::download_all<float>(ctx, got.u, size_t(n) * n);
  for (uint32_t i = 0; i < n; ++i) {
    // H̃ ≈ diag(λ H_jj): U ≈ diag(1/√H̃_jj), off-diagonal terms O(1/λ) relative.
    EXPECT_NEAR(u[i * n + i] * std::sqrt(double(hr[i * n + i])), 1.0, 1e-5);
    for (uint32_t j = i + 1; j < n; ++j) EXPECT_LT(std::abs(u[i * n + j]), 1e-5 * u[i * n + i]);
  }
}

TEST(PrepareHessian, FactorizerIsReusableAcrossLayersOfDifferentWidth) {
  const uint64_t seed = test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  auto& ctx = vk_context();
  quant::HessianFactorizer f(ctx);
  for (const uint32_t n : {150u, 40u, 97u}) {
    const auto h = random_gram(rng, n, n);
    quant::HessianOptions o;
    const RefPrepared want = reference_prepare(h, n, o);
    auto hb = vk::upload_new(ctx, h, "H");
    const auto got = f.prepare(hb, n, o);
    EXPECT_EQ(got.n, n);
    EXPECT_LE(test::max_rel_error(vk::download_all<float>(ctx, got.u, size_t(n) * n), want.f.u),
              std::max(1e-6, 16 * kEps32 * std::sqrt(want.kappa)))
        << "n " << n;
  }
}

TEST(PrepareHessian, ActSaliencyWithoutChannelStatsNamesTheLayer) {
  const uint32_t n = 4;
  std::vector<float> h(n * n, 0.f);
  for (uint32_t j = 0; j < n; ++j) h[j * n + j] = 1.f;
  quant::HessianOptions o;
  o.lambda = 0.1, o.saliency = ref::Saliency::act, o.label = "blk.1.attn_v";
  auto& ctx = vk_context();
  auto hb = vk::upload_new(ctx, h, "H");
  try {
    quant::prepare_hessian(ctx, hb, n, o);
    FAIL() << "expected vkq::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("blk.1.attn_v"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace vkq
