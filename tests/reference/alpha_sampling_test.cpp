// Sampled α (ALGORITHMS.md §2): SplitMix64 stream, Marsaglia–Tsang gamma, Beta(5, 5) folded.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "reference/alpha_sampling.hpp"
#include "vkquant/vkquant.hpp"
#include "support/test_seed.hpp"

namespace vkq::ref {
namespace {

TEST(AlphaSampling, SplitMix64MatchesTheReferenceStream) {
  SplitMix64 g(0);  // Vigna's splitmix64.c, seed 0
  EXPECT_EQ(g.next(), 0xE220A8397B1DCDAFull);
  EXPECT_EQ(g.next(), 0x6E789E6AA1B965F4ull);
  EXPECT_EQ(g.next(), 0x06C45D188009454Full);
}

TEST(AlphaSampling, ReproducibleWithTheSameSeedAndDifferentWithAnother) {
  const uint64_t seed = vkq::test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  const auto a = sample_alpha(seed, 128), b = sample_alpha(seed, 128), c = sample_alpha(seed + 1, 128);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  for (double v : a) {
    EXPECT_GE(v, 0.0);
    EXPECT_LE(v, 0.5);
  }
  const auto prefix = sample_alpha(seed, 10);  // sequence s does not depend on how many are drawn
  EXPECT_EQ(prefix, std::vector<double>(a.begin(), a.begin() + 10));
}

TEST(AlphaSampling, GammaAndBetaMoments) {
  const uint64_t seed = vkq::test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  SplitMix64 rng(seed);
  const int n = 40000;
  double sg = 0, sg2 = 0, sb = 0, sb2 = 0;
  for (int i = 0; i < n; ++i) {
    const double g = sample_gamma(rng, 5.0), b = sample_beta(rng, 5.0, 5.0);
    sg += g;
    sg2 += g * g;
    sb += b;
    sb2 += b * b;
  }
  const double mg = sg / n, vg = sg2 / n - mg * mg, mb = sb / n, vb = sb2 / n - mb * mb;
  // Gamma(5): mean 5, variance 5; Beta(5,5): mean 1/2, variance 1/44. Bounds ≈ 6 standard errors.
  EXPECT_NEAR(mg, 5.0, 6 * std::sqrt(5.0 / n));
  EXPECT_NEAR(vg, 5.0, 0.3);
  EXPECT_NEAR(mb, 0.5, 6 * std::sqrt(1.0 / 44 / n));
  EXPECT_NEAR(vb, 1.0 / 44, 0.002);
}

TEST(AlphaSampling, TheBetaParameterSetsTheSpread) {
  const uint64_t seed = vkq::test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  const size_t n = 40000;
  EXPECT_EQ(sample_alpha(seed, 64), sample_alpha(seed, 64, 5.0));  // 5 is the default
  const auto mean = [](const std::vector<double>& v) {
    double s = 0;
    for (double x : v) s += x;
    return s / double(v.size());
  };
  // Beta(1,1) folded is uniform on [0, 0.5]: mean 1/4, sd 0.5/sqrt(12). Beta(5,5) folded: mean 0.3770
  // (sd 0.087); Beta(20,20): 0.4373. Bounds ≈ 6 standard errors.
  EXPECT_NEAR(mean(sample_alpha(seed, n, 1.0)), 0.25, 6 * 0.1443 / std::sqrt(double(n)));
  EXPECT_NEAR(mean(sample_alpha(seed, n, 5.0)), 0.3770, 6 * 0.087 / std::sqrt(double(n)) + 3e-4);
  EXPECT_NEAR(mean(sample_alpha(seed, n, 20.0)), 0.4373, 0.002);
  EXPECT_THROW(sample_alpha(seed, 4, 0.5), vkq::Error);  // Marsaglia–Tsang needs shape ≥ 1
  EXPECT_THROW(sample_alpha(seed, 4, NAN), vkq::Error);
}

}  // namespace
}  // namespace vkq::ref
