// Regulariser and target (ALGORITHMS.md §2, §4.1): dead columns, saliency, H̃, T = W + α W D H̃⁻¹.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "reference/cholesky.hpp"
#include "reference/regularize.hpp"
#include "reference_fixtures.hpp"
#include "support/test_seed.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::ref {
namespace {

TEST(Regularize, DeadColumnsGetUnitDiagonal) {
  std::vector<double> h = {0, 0, 0, 0, 2, 1, 0, 1, 0};
  const auto dead = fix_dead_columns(h, 3);
  EXPECT_EQ(dead, (std::vector<size_t>{0, 2}));
  EXPECT_EQ(h[0], 1.0);
  EXPECT_EQ(h[8], 1.0);
  EXPECT_EQ(h[4], 2.0);
  std::vector<double> w = {1, 2, 3, 4, 5, 6};
  zero_columns(w, 2, 3, dead);
  EXPECT_EQ(w, (std::vector<double>{0, 2, 0, 0, 5, 0}));
}

TEST(Regularize, SaliencyIsNormalisedToMeanOne) {
  const std::vector<double> h = {4, 0, 0, 0, 1, 0, 0, 0, 1};
  const std::vector<double> act = {1, 2, 3};
  const auto expect_mean_one = [](const std::vector<double>& s) {
    EXPECT_NEAR(std::accumulate(s.begin(), s.end(), 0.0) / double(s.size()), 1.0, 1e-15);
  };
  const auto unit = saliency_weights(Saliency::unit, h, 3, {});
  EXPECT_EQ(unit, (std::vector<double>{1, 1, 1}));
  const auto hd = saliency_weights(Saliency::hdiag, h, 3, {});
  expect_mean_one(hd);
  EXPECT_DOUBLE_EQ(hd[0] / hd[1], 4.0);
  const auto a1 = saliency_weights(Saliency::act, h, 3, act);
  expect_mean_one(a1);
  EXPECT_DOUBLE_EQ(a1[2] / a1[0], 3.0);
  const auto a2 = saliency_weights(Saliency::act2, h, 3, act);
  expect_mean_one(a2);
  EXPECT_DOUBLE_EQ(a2[2] / a2[0], 9.0);
  EXPECT_THROW(saliency_weights(Saliency::act, h, 3, {}), vkq::Error);
  EXPECT_THROW(saliency_weights(Saliency::act, h, 3, {0, 0, 0}), vkq::Error);
}

TEST(Regularize, RegularisedGramFormula) {
  const uint64_t seed = vkq::test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  const size_t n = 33;
  auto c = vkq::test::correlated_calibration(rng, n, 64);
  const double mu = diag_mean(c.h, n), delta = 0.01, lambda = 0.3;
  const auto shat = saliency_weights(Saliency::act2, c.h, n, c.mean_abs);
  const auto hr = regularized_gram(c.h, n, mu, delta, lambda, shat);
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < n; ++j) {
      const double want = c.h[i * n + j] + (i == j ? mu * (delta + lambda * shat[j]) : 0.0);
      EXPECT_DOUBLE_EQ(hr[i * n + j], want);
    }
}

TEST(Regularize, ActOrderIsStableDescendingDiagonal) {
  const std::vector<double> h = {1, 0, 0, 0, 0, 3, 0, 0, 0, 0, 1, 0, 0, 0, 0, 3};
  EXPECT_EQ(act_order_permutation(h, 4), (std::vector<size_t>{1, 3, 0, 2}));
}

TEST(Regularize, ShiftedTargetSolvesTheNormalEquation) {
  const uint64_t seed = vkq::test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  for (size_t n : {1u, 7u, 33u}) {
    const size_t m = 5;
    auto c = vkq::test::correlated_calibration(rng, n, 96);
    const auto wf = vkq::test::normal_weights(rng, m, n);
    const std::vector<double> w(wf.begin(), wf.end());
    const double mu = diag_mean(c.h, n), alpha = 0.25;
    const auto hr = regularized_gram(c.h, n, mu, 0.01, 0, {});
    for (bool permuted : {false, true}) {
      std::vector<size_t> order(n);
      std::iota(order.begin(), order.end(), size_t(0));
      if (permuted) order = act_order_permutation(c.h, n);
      auto l = permute_symmetric(hr, n, order);
      ASSERT_TRUE(cholesky_lower(l, n).ok);
      const auto t = shifted_target(w, m, n, c.d, alpha, l, order);
      // (T − W) H̃ = α W D
      for (size_t i = 0; i < m; ++i)
        for (size_t j = 0; j < n; ++j) {
          double lhs = 0, rhs = 0, size = 0;  // size: Σ|terms|, the scale of the rounding error
          for (size_t k = 0; k < n; ++k) {
            lhs += (t[i * n + k] - w[i * n + k]) * hr[k * n + j];
            rhs += alpha * w[i * n + k] * c.d[k * n + j];
            size += std::fabs((t[i * n + k] - w[i * n + k]) * hr[k * n + j]);
          }
          EXPECT_NEAR(lhs, rhs, 1e-10 * size + 1e-300) << "n=" << n << " permuted=" << permuted;
        }
    }
  }
}

}  // namespace
}  // namespace vkq::ref
