// Blocked Cholesky, triangular inverse and U = chol(H̃⁻¹)ᵀ on the device vs reference/cholesky.cpp
// on random SPD matrices (rank-deficient XᵀX plus the default 1 % damping) at awkward n, failure
// detection (indefinite, NaN), poisoned outputs and split dispatches.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "kernels/cholesky.hpp"
#include "reference/cholesky.hpp"
#include "support/test_seed.hpp"
#include "support/vk_test_env.hpp"

namespace vkq {
namespace {

using test::vk_context;
constexpr double kEps32 = 1.1920929e-7;

// H = XᵀX/m + 0.01·mean(diag)·I over m = n/2 + 1 tokens (rank-deficient Gram, as with few
// calibration tokens), rounded to fp32; `hd` gets the same fp32 values in double.
std::vector<float> random_spd(std::mt19937_64& rng, uint32_t n, std::vector<double>& hd) {
  const uint32_t m = n / 2 + 1;
  auto x = test::random_floats(rng, size_t(m) * n);
  hd.assign(size_t(n) * n, 0.0);
  for (uint32_t t = 0; t < m; ++t) {
    const float* r = &x[size_t(t) * n];
    for (uint32_t i = 0; i < n; ++i)
      for (uint32_t j = 0; j <= i; ++j) hd[size_t(i) * n + j] += double(r[i]) * r[j];
  }
  double mu = 0;
  for (uint32_t i = 0; i < n; ++i) mu += hd[size_t(i) * n + i] / m / n;
  std::vector<float> h(size_t(n) * n);
  for (uint32_t i = 0; i < n; ++i)
    for (uint32_t j = 0; j <= i; ++j) {
      const float v = float(hd[size_t(i) * n + j] / m + (i == j ? 0.01 * mu : 0.0));
      h[size_t(i) * n + j] = h[size_t(j) * n + i] = v;
    }
  hd.assign(h.begin(), h.end());
  return h;
}

double norm1(const std::vector<double>& a, uint32_t n) {
  double best = 0;
  for (uint32_t j = 0; j < n; ++j) {
    double s = 0;
    for (uint32_t i = 0; i < n; ++i) s += std::abs(a[size_t(i) * n + j]);
    best = std::max(best, s);
  }
  return best;
}

struct Reference {
  std::vector<double> l, linv, u;
  double kappa = 0;  // ‖H‖₁‖H⁻¹‖₁
};

Reference reference_of(std::vector<double> hd, uint32_t n) {
  Reference r;
  const double hn = norm1(hd, n);
  EXPECT_TRUE(ref::cholesky_lower(hd, n).ok);
  r.l = hd;
  r.linv = ref::invert_lower(r.l, n);
  r.kappa = hn * norm1(ref::cholesky_inverse(r.l, n), n);
  EXPECT_TRUE(ref::upper_cholesky_of_inverse(r.l, n, r.u).ok);
  return r;
}

class CholeskyShapes : public testing::TestWithParam<uint32_t> {};

TEST_P(CholeskyShapes, FactorsInvertAndUpperOfInverseMatchReference) {
  const uint32_t n = GetParam();
  const uint64_t seed = test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  std::vector<double> hd;
  const auto h = random_spd(rng, n, hd);
  const Reference want = reference_of(hd, n);
  // fp32 factors lose digits with the conditioning: a triangular factor of A has condition
  // ≈ √κ(A) (Chang, Paige & Stewart 1996), so the max-norm errors of L, L⁻¹ and U scale like
  // ε·√κ (measured ≤ 1.6 ε·√κ₁ here, κ₁ ≥ κ₂); 16·ε·√κ₁ keeps a margin of ~10.
  const double tol = std::max(1e-6, 16 * kEps32 * std::sqrt(want.kappa));
  SCOPED_TRACE("n=" + std::to_string(n) + " kappa=" + std::to_string(want.kappa) + " tol=" + std::to_string(tol));

  auto& ctx = vk_context();
  kernels::Cholesky chol(ctx);
  vk::Stream s(ctx);
  auto a = vk::upload_new(ctx, h, "A");
  chol.factor(s, a, n);
  s.submit_and_wait();
  const auto st = chol.status();
  ASSERT_TRUE(st.ok) << st.describe();
  const auto l = vk::download_all<float>(ctx, a, size_t(n) * n);
  const double err_l = test::max_rel_error(l, want.l);
  EXPECT_LE(err_l, tol) << "L";
  for (uint32_t i = 0; i < n; ++i)
    for (uint32_t j = i + 1; j < n; ++j) ASSERT_EQ(l[size_t(i) * n + j], 0.f) << "upper triangle of L";

  // L⁻ᵀ of the reference L rounded to fp32 isolates the inverse kernel.
  auto lb = vk::upload_new(ctx, std::vector<float>(want.l.begin(), want.l.end()), "L");
  auto yb = vk::upload_new(ctx, test::poisoned(size_t(n) * n), "Y");
  chol.invert_lower_transposed(s, lb, yb, n);
  s.submit_and_wait();
  std::vector<double> linv_t(size_t(n) * n);
  for (uint32_t i = 0; i < n; ++i)
    for (uint32_t j = 0; j < n; ++j) linv_t[size_t(j) * n + i] = want.linv[size_t(i) * n + j];
  const double err_x = test::max_rel_error(vk::download_all<float>(ctx, yb, size_t(n) * n), linv_t);
  EXPECT_LE(err_x, tol) << "L⁻ᵀ";

  auto work = vk::upload_new(ctx, h, "H̃");
  auto ub = vk::upload_new(ctx, test::poisoned(size_t(n) * n), "U");
  chol.upper_factor_of_inverse(s, work, ub, n);
  s.submit_and_wait();
  ASSERT_TRUE(chol.status().ok) << chol.status().describe();
  const auto u = vk::download_all<float>(ctx, ub, size_t(n) * n);
  const double err_u = test::max_rel_error(u, want.u);
  EXPECT_LE(err_u, tol) << "U";
  for (uint32_t i = 0; i < n; ++i)
    for (uint32_t j = 0; j < i; ++j) ASSERT_EQ(u[size_t(i) * n + j], 0.f) << "lower triangle of U";
}

INSTANTIATE_TEST_SUITE_P(Awkward, CholeskyShapes, testing::Values(1u, 7u, 33u, 63u, 64u, 65u, 127u, 129u, 600u));

TEST(Cholesky, ReportsTheFirstNonPositivePivot) {
  const uint64_t seed = test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  const uint32_t n = 129, bad = 70;  // past the first 64-column block
  std::vector<double> hd;
  auto h = random_spd(rng, n, hd);
  h[size_t(bad) * n + bad] = -1.f;
  hd[size_t(bad) * n + bad] = -1.0;
  auto want = hd;
  const auto rs = ref::cholesky_lower(want, n);
  ASSERT_FALSE(rs.ok);
  auto& ctx = vk_context();
  kernels::Cholesky chol(ctx);
  vk::Stream s(ctx);
  auto a = vk::upload_new(ctx, h, "A");
  chol.factor(s, a, n);
  s.submit_and_wait();
  const auto st = chol.status();
  EXPECT_FALSE(st.ok);
  EXPECT_TRUE(st.pivot_failed);
  EXPECT_EQ(st.column, rs.column);
  EXPECT_LT(st.pivot, 0.f);
  // The reversed route reports the column in H̃'s own indexing.
  auto work = vk::upload_new(ctx, h, "H̃");
  auto ub = vk::Buffer(ctx, size_t(n) * n * 4, vk::MemoryUse::Device, "U");
  chol.upper_factor_of_inverse(s, work, ub, n);
  s.submit_and_wait();
  EXPECT_TRUE(chol.status().pivot_failed);
  EXPECT_LT(chol.status().column, n);
}

TEST(Cholesky, SingularMatrixFailsTheRelativePivotTest) {
  // Rank one: every pivot after the first is rounding noise, far below 4·n·ε·a_jj.
  const uint32_t n = 20;
  std::vector<float> h(n * n);
  for (uint32_t i = 0; i < n; ++i)
    for (uint32_t j = 0; j < n; ++j) h[i * n + j] = float((i + 1) * (j + 1)) / 7.f;
  auto& ctx = vk_context();
  kernels::Cholesky chol(ctx);
  vk::Stream s(ctx);
  auto a = vk::upload_new(ctx, h, "A");
  chol.factor(s, a, n);
  s.submit_and_wait();
  EXPECT_TRUE(chol.status().pivot_failed);
  EXPECT_EQ(chol.status().column, 1u);
}

TEST(Cholesky, NonFiniteInputIsReported) {
  const uint32_t n = 9;
  std::vector<float> h(n * n, 0.f);
  for (uint32_t i = 0; i < n; ++i) h[i * n + i] = 2.f;
  h[5 * n + 3] = h[3 * n + 5] = std::numeric_limits<float>::infinity();
  auto& ctx = vk_context();
  kernels::Cholesky chol(ctx);
  vk::Stream s(ctx);
  auto a = vk::upload_new(ctx, h, "A");
  chol.factor(s, a, n);
  s.submit_and_wait();
  EXPECT_TRUE(chol.status().pivot_failed);
  auto work = vk::upload_new(ctx, h, "H̃");
  auto ub = vk::Buffer(ctx, size_t(n) * n * 4, vk::MemoryUse::Device, "U");
  chol.upper_factor_of_inverse(s, work, ub, n);
  s.submit_and_wait();
  EXPECT_TRUE(chol.status().input_nonfinite);
  EXPECT_FALSE(chol.status().ok);
}

TEST(Cholesky, SplitDispatchesGiveTheSameU) {
  const uint64_t seed = test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  const uint32_t n = 131;
  std::vector<double> hd;
  const auto h = random_spd(rng, n, hd);
  auto& ctx = vk_context();
  kernels::Cholesky chol(ctx);
  std::vector<float> u[2];
  for (int split = 0; split < 2; ++split) {
    vk::Stream s(ctx);
    if (split) s.set_max_group_count_for_testing(3);
    auto work = vk::upload_new(ctx, h, "H̃");
    auto ub = vk::upload_new(ctx, test::poisoned(size_t(n) * n), "U");
    chol.upper_factor_of_inverse(s, work, ub, n);
    s.submit_and_wait();
    ASSERT_TRUE(chol.status().ok);
    u[split] = vk::download_all<float>(ctx, ub, size_t(n) * n);
  }
  EXPECT_EQ(u[0], u[1]);  // splitting changes the grid, not the arithmetic
}

TEST(Cholesky, AntiTransposeReflectsAcrossTheAntiDiagonal) {
  for (const uint32_t n : {1u, 6u, 17u}) {
    std::vector<float> a(size_t(n) * n);
    for (size_t e = 0; e < a.size(); ++e) a[e] = float(e);
    auto& ctx = vk_context();
    kernels::Cholesky chol(ctx);
    vk::Stream s(ctx);
    auto b = vk::upload_new(ctx, a, "A");
    chol.anti_transpose(s, b, n);
    s.submit_and_wait();
    const auto got = vk::download_all<float>(ctx, b, a.size());
    for (uint32_t i = 0; i < n; ++i)
      for (uint32_t j = 0; j < n; ++j)
        ASSERT_EQ(got[size_t(i) * n + j], a[size_t(n - 1 - j) * n + (n - 1 - i)]) << n << ": " << i << "," << j;
  }
}

TEST(Cholesky, RejectsShortAndAliasedBuffers) {
  auto& ctx = vk_context();
  kernels::Cholesky chol(ctx);
  vk::Stream s(ctx);
  vk::Buffer a(ctx, 100 * 4, vk::MemoryUse::Device, "A");
  EXPECT_THROW(chol.factor(s, a, 11), Error);
  EXPECT_THROW(chol.invert_lower_transposed(s, a, a, 10), Error);
  EXPECT_THROW(chol.upper_factor_of_inverse(s, a, a, 10), Error);
  EXPECT_THROW(chol.factor(s, a, 70000), Error);  // n² ≥ 2^32
}

}  // namespace
}  // namespace vkq
