// Cholesky, triangular inverse, U = chol(H̃⁻¹) and damping escalation (ALGORITHMS.md §4 GBS step 3).
// Tolerances: fp64 on matrices of condition ≲ 10³, so 1e-12 relative leaves a wide margin.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "reference/cholesky.hpp"
#include "reference_fixtures.hpp"
#include "support/test_seed.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::ref {
namespace {

const size_t kShapes[] = {1, 7, 33, 127, 129};

std::vector<double> matmul(const std::vector<double>& a, const std::vector<double>& b, size_t n, bool at = false) {
  std::vector<double> c(n * n, 0.0);
  for (size_t i = 0; i < n; ++i)
    for (size_t k = 0; k < n; ++k) {
      const double aik = at ? a[k * n + i] : a[i * n + k];
      if (aik == 0) continue;
      for (size_t j = 0; j < n; ++j) c[i * n + j] += aik * b[k * n + j];
    }
  return c;
}

std::vector<double> transpose(const std::vector<double>& a, size_t n) {
  std::vector<double> t(n * n);
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < n; ++j) t[j * n + i] = a[i * n + j];
  return t;
}

TEST(Cholesky, LowerFactorReproducesTheMatrix) {
  const uint64_t seed = vkq::test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  for (size_t n : kShapes) {
    const auto h = vkq::test::random_spd(rng, n);
    auto l = h;
    ASSERT_TRUE(cholesky_lower(l, n).ok) << "n=" << n;
    for (size_t i = 0; i < n; ++i)
      for (size_t j = i + 1; j < n; ++j) ASSERT_EQ(l[i * n + j], 0.0);
    const auto llt = matmul(l, transpose(l, n), n);
    EXPECT_LE(vkq::test::max_abs_diff(llt, h) / vkq::test::max_abs(h), 1e-12) << "n=" << n;
  }
}

TEST(Cholesky, TriangularInverseAndUpperFactorOfTheInverse) {
  const uint64_t seed = vkq::test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  for (size_t n : kShapes) {
    const auto h = vkq::test::random_spd(rng, n);
    auto l = h;
    ASSERT_TRUE(cholesky_lower(l, n).ok);
    std::vector<double> eye(n * n, 0.0);
    for (size_t i = 0; i < n; ++i) eye[i * n + i] = 1;
    EXPECT_LE(vkq::test::max_abs_diff(matmul(l, invert_lower(l, n), n), eye), 1e-12) << "n=" << n;

    const auto hinv = cholesky_inverse(l, n);
    EXPECT_LE(vkq::test::max_abs_diff(matmul(h, hinv, n), eye), 1e-11) << "n=" << n;

    std::vector<double> u;
    ASSERT_TRUE(upper_cholesky_of_inverse(l, n, u).ok);
    for (size_t i = 0; i < n; ++i) {
      EXPECT_GT(u[i * n + i], 0);
      for (size_t j = 0; j < i; ++j) ASSERT_EQ(u[i * n + j], 0.0);
    }
    const auto utu = matmul(u, u, n, /*at=*/true);  // Uᵀ U
    EXPECT_LE(vkq::test::max_abs_diff(utu, hinv) / vkq::test::max_abs(hinv), 1e-12) << "n=" << n;
    EXPECT_LE(vkq::test::max_abs_diff(matmul(utu, h, n), eye), 1e-11) << "n=" << n;
  }
}

TEST(Cholesky, SolveInvertsTheFactoredMatrix) {
  const uint64_t seed = vkq::test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  for (size_t n : kShapes) {
    const auto h = vkq::test::random_spd(rng, n);
    auto l = h;
    ASSERT_TRUE(cholesky_lower(l, n).ok);
    std::normal_distribution<double> nd;
    std::vector<double> x(n), b(n, 0.0);
    for (auto& v : x) v = nd(rng);
    for (size_t i = 0; i < n; ++i)
      for (size_t j = 0; j < n; ++j) b[i] += h[i * n + j] * x[j];
    cholesky_solve(l, n, b.data());
    EXPECT_LE(vkq::test::max_abs_diff(b, x), 1e-11 * vkq::test::max_abs(x)) << "n=" << n;
  }
}

TEST(Cholesky, DetectsIndefiniteAndSingularMatrices) {
  std::vector<double> indefinite = {1, 2, 2, 1};  // eigenvalues 3 and −1
  const CholeskyStatus st = cholesky_lower(indefinite, 2);
  EXPECT_FALSE(st.ok);
  EXPECT_EQ(st.column, 1u);
  std::vector<double> singular = {1, 1, 1, 1};
  EXPECT_FALSE(cholesky_lower(singular, 2).ok);
  std::vector<double> nan = {std::nan(""), 0, 0, 1};
  EXPECT_FALSE(cholesky_lower(nan, 2).ok);
}

TEST(Cholesky, DampingEscalatesOnAnIndefiniteMatrix) {
  // H + δ I with eigenvalues 3 + δ and δ − 1: 0.01, 0.1 and 1 fail, 10 succeeds.
  const std::vector<double> h = {1, 2, 2, 1};
  const DampedCholesky f = factor_with_damping(2, 0.01, [&](double d) {
    auto a = h;
    a[0] += d;
    a[3] += d;
    return a;
  });
  EXPECT_EQ(f.retries.size(), 3u);
  EXPECT_DOUBLE_EQ(f.delta, 10.0);
  for (const auto& msg : f.retries) EXPECT_NE(msg.find("not positive definite"), std::string::npos) << msg;
  for (double v : f.l) EXPECT_TRUE(std::isfinite(v));
  for (double v : f.u) EXPECT_TRUE(std::isfinite(v));
  EXPECT_EQ(f.h_reg[0], 11.0);
}

TEST(Cholesky, DampingEscalatesOnASingularGramFromZero) {
  const uint64_t seed = vkq::test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  const size_t n = 33, rank = 5;  // X Xᵀ of rank 5
  std::normal_distribution<double> nd;
  std::vector<double> x(n * rank), h(n * n, 0.0);
  for (auto& v : x) v = nd(rng);
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < n; ++j)
      for (size_t k = 0; k < rank; ++k) h[i * n + j] += x[i * rank + k] * x[j * rank + k];
  double mu = 0;
  for (size_t j = 0; j < n; ++j) mu += h[j * n + j] / double(n);
  const DampedCholesky f = factor_with_damping(n, 0.0, [&](double d) {
    auto a = h;
    for (size_t j = 0; j < n; ++j) a[j * n + j] += mu * d;
    return a;
  });
  ASSERT_GE(f.retries.size(), 1u);
  EXPECT_NE(f.retries[0].find("δ = 0"), std::string::npos) << f.retries[0];
  EXPECT_GT(f.delta, 0);
  for (double v : f.u) EXPECT_TRUE(std::isfinite(v));
}

TEST(Cholesky, GivesUpAfterSixRetriesWithAnError) {
  int calls = 0;
  try {
    factor_with_damping(3, 0.01, [&](double d) {
      ++calls;
      std::vector<double> a(9, 0.0);
      for (size_t j = 0; j < 3; ++j) a[j * 3 + j] = -1e9 + d;
      return a;
    });
    FAIL() << "expected vkq::Error";
  } catch (const vkq::Error& e) {
    EXPECT_NE(std::string(e.what()).find("6 damping retries"), std::string::npos) << e.what();
  }
  EXPECT_EQ(calls, 7);
}

}  // namespace
}  // namespace vkq::ref
