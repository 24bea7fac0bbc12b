// gemm vs the float64 reference on random inputs, awkward shapes, every operand layout,
// poisoned outputs, beta != 0 accumulation and sub-matrix offsets/strides.
#include <gtest/gtest.h>

#include <cmath>

#include <cstdlib>
#include <random>
#include <tuple>

#include "kernels/gemm.hpp"
#include "vkquant/vkquant.hpp"
#include "reference/gemm_ref.hpp"
#include "support/test_seed.hpp"
#include "support/vk_test_env.hpp"

namespace vkq {
namespace {

using test::vk_context;

std::vector<double> to_double(const std::vector<float>& v) { return {v.begin(), v.end()}; }

// fp32 dot products of length k lose about sqrt(k) * 2^-24 relative to the sum of their |terms|; the
// error is measured against max over C of |α|·(|A||B|) + |β||C0| (not max|C|, which a 1 × 1 output whose
// terms cancel makes arbitrarily small: such a draw failed at 2.3e-5 with m = n = 1, k = 33). 2e-5 leaves
// ample margin for k up to a few thousand.
constexpr double kTol = 2e-5;

std::vector<double> absolute(const std::vector<float>& v) {
  std::vector<double> r(v.size());
  for (size_t i = 0; i < v.size(); ++i) r[i] = std::abs(double(v[i]));
  return r;
}

// max|got − want| / max(scale): NaN or a size mismatch gives +inf.
double max_error_over_scale(const std::vector<float>& got, const std::vector<double>& want,
                            const std::vector<double>& scale) {
  if (got.size() != want.size()) return INFINITY;
  double num = 0, den = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (!std::isfinite(got[i])) return INFINITY;
    num = std::max(num, std::abs(double(got[i]) - want[i]));
    den = std::max(den, scale[i]);
  }
  return num / std::max(den, 1e-300);
}

struct ScopedVariant {
  explicit ScopedVariant(const char* v) { ::setenv("VKQ_GEMM_VARIANT", v, 1); }
  ~ScopedVariant() { ::unsetenv("VKQ_GEMM_VARIANT"); }
};

class GemmShapes : public testing::TestWithParam<std::tuple<uint32_t, uint32_t, uint32_t, int, const char*>> {};

TEST_P(GemmShapes, MatchesReference) {
  auto [m, n, k, layout, variant] = GetParam();
  ScopedVariant forced(variant);
  const bool a_kmajor = layout & 2, b_kmajor = layout & 1;
  const uint64_t seed = test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  auto& ctx = vk_context();
  auto a = test::random_floats(rng, size_t(m) * k);
  auto b = test::random_floats(rng, size_t(n) * k);
  auto c0 = test::random_floats(rng, size_t(m) * n);
  kernels::Gemm gemm(ctx);
  for (float beta : {0.0f, 0.5f}) {
    auto ab = vk::upload_new(ctx, a, "A");
    auto bb = vk::upload_new(ctx, b, "B");
    auto cb = vk::upload_new(ctx, beta == 0.0f ? test::poisoned(c0.size()) : c0, "C");
    kernels::GemmShape sh;
    sh.m = m, sh.n = n, sh.k = k, sh.a_kmajor = a_kmajor, sh.b_kmajor = b_kmajor;
    sh.alpha = 1.5f, sh.beta = beta;
    vk::Stream s(ctx);
    gemm.run(s, ab, bb, cb, sh);
    s.submit_and_wait();
    auto got = vk::download_all<float>(ctx, cb, c0.size());
    std::vector<double> want = to_double(c0);
    ref::gemm_ref({m, n, k, a_kmajor, b_kmajor, 1.5, beta}, to_double(a), to_double(b), want);
    std::vector<double> scale = absolute(c0);
    ref::gemm_ref({m, n, k, a_kmajor, b_kmajor, 1.5, beta}, absolute(a), absolute(b), scale);
    EXPECT_LE(max_error_over_scale(got, want, scale), kTol) << "m=" << m << " n=" << n << " k=" << k << " beta=" << beta;
  }
}

INSTANTIATE_TEST_SUITE_P(Awkward, GemmShapes,
                         testing::Combine(testing::Values(1u, 7u, 33u, 129u), testing::Values(1u, 64u, 127u),
                                          testing::Values(1u, 33u, 200u), testing::Values(0, 1, 2, 3),
                                          testing::Values("tiled")));
// The CPU-device form (register blocks, vec4 along k) serves the aligned NT layout; others fall back.
INSTANTIATE_TEST_SUITE_P(CpuForm, GemmShapes,
                         testing::Combine(testing::Values(1u, 7u, 17u, 129u), testing::Values(1u, 9u, 127u),
                                          testing::Values(4u, 200u, 36u), testing::Values(0, 3),
                                          testing::Values("cpu")));

TEST(Gemm, LargeSquareAndSubmatrixOffsets) {
  const uint64_t seed = test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  auto& ctx = vk_context();
  // C[2:2+m, 3:3+n] of a 300 x 300 buffer = A(rows 5.., ld 300) * B(ld 300)^T
  const uint32_t m = 257, n = 190, k = 1000, ld = 1000;
  auto a = test::random_floats(rng, size_t(ld) * 300);
  auto b = test::random_floats(rng, size_t(ld) * 300);
  auto c = test::poisoned(300 * 300);
  auto ab = vk::upload_new(ctx, a, "A");
  auto bb = vk::upload_new(ctx, b, "B");
  auto cb = vk::upload_new(ctx, c, "C");
  kernels::GemmShape sh;
  sh.m = m, sh.n = n, sh.k = k, sh.lda = ld, sh.ldb = ld, sh.ldc = 300;
  sh.a_offset = 5 * ld, sh.b_offset = 0, sh.c_offset = 2 * 300 + 3;
  ScopedVariant forced("cpu");  // aligned offsets and strides: the register-blocked form runs
  kernels::Gemm gemm(ctx);
  vk::Stream s(ctx);
  gemm.run(s, ab, bb, cb, sh);
  s.submit_and_wait();
  auto got = vk::download_all<float>(ctx, cb, c.size());
  std::vector<float> sub;
  std::vector<double> want(size_t(m) * n);
  for (uint32_t i = 0; i < m; ++i)
    for (uint32_t j = 0; j < n; ++j) {
      double acc = 0;
      for (uint32_t q = 0; q < k; ++q) acc += double(a[(5 + i) * ld + q]) * b[j * ld + q];
      want[i * n + j] = acc;
      sub.push_back(got[(2 + i) * 300 + 3 + j]);
    }
  EXPECT_LE(test::max_rel_error(sub, want), kTol);
  // Everything outside the sub-matrix must be untouched (still NaN).
  size_t touched_outside = 0;
  for (uint32_t i = 0; i < 300; ++i)
    for (uint32_t j = 0; j < 300; ++j) {
      const bool inside = i >= 2 && i < 2 + m && j >= 3 && j < 3 + n;
      if (!inside && !std::isnan(got[i * 300 + j])) ++touched_outside;
    }
  EXPECT_EQ(touched_outside, 0u);
}

TEST(Gemm, RejectsOperandsThatDoNotFit) {
  auto& ctx = vk_context();
  vk::Buffer small(ctx, 16, vk::MemoryUse::Device, "tiny");
  vk::Buffer big(ctx, 4096, vk::MemoryUse::Device, "big");
  kernels::Gemm gemm(ctx);
  vk::Stream s(ctx);
  kernels::GemmShape sh;
  sh.m = 8, sh.n = 8, sh.k = 8;
  try {
    gemm.run(s, small, big, big, sh);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("operand A"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("tiny"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace vkq
