// cross_gram_accumulate (and its CPU-device form cross_gram_registers, forced by VKQ_CROSS_GRAM_VARIANT)
// + finalize vs the float64 reference CrossGramRef: awkward widths, several
// accumulate() calls at uneven offsets with different weights (sampled α), poisoned D, the index
// convention that ref::shifted_target reads (D[k][j] = (2/N) Σ_t ΔX[t][k] X_q[t][j]), and accuracy
// over 100k tokens.
#include <gtest/gtest.h>

#include <cstdlib>
#include <random>

#include "kernels/cross_gram.hpp"
#include "reference/alpha_sampling.hpp"
#include "reference/cross_gram_ref.hpp"
#include "support/test_seed.hpp"
#include "support/vk_test_env.hpp"

namespace vkq {
namespace {

using test::vk_context;

double max_rel(const std::vector<double>& got, const std::vector<double>& want) {
  double num = 0, den = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (!std::isfinite(got[i])) return INFINITY;
    num = std::max(num, std::abs(got[i] - want[i]));
    den = std::max(den, std::abs(want[i]));
  }
  return num / den;
}

// Forces the tiled or the register-blocked form for one scope (the wrapper reads it at construction).
struct ScopedVariant {
  explicit ScopedVariant(const char* v) { ::setenv("VKQ_CROSS_GRAM_VARIANT", v, 1); }
  ~ScopedVariant() { ::unsetenv("VKQ_CROSS_GRAM_VARIANT"); }
};

struct Run {
  std::vector<float> d_device;
  std::vector<double> d_host;
};

// X_f and X_q are fed at different offsets of their buffers (X_f has `pad` leading rows).
Run run_cross(uint32_t n, const std::vector<float>& xf, const std::vector<float>& xq, uint32_t tokens,
              const std::vector<double>& weights, uint32_t pad) {
  auto& ctx = vk_context();
  std::vector<float> xf_padded(size_t(pad) * n, 7.0f);
  xf_padded.insert(xf_padded.end(), xf.begin(), xf.end());
  auto fb = vk::upload_new(ctx, xf_padded, "X_f");
  auto qb = vk::upload_new(ctx, xq, "X_q");
  kernels::CrossGramAccumulator acc(ctx, n);
  auto db = vk::upload_new(ctx, test::poisoned(size_t(n) * n), "D");
  vk::Stream s(ctx);
  acc.reset(s);
  const uint32_t calls = uint32_t(weights.size());
  uint32_t done = 0;
  for (uint32_t c = 0; c < calls; ++c) {
    const uint32_t cnt = c + 1 == calls ? tokens - done : tokens / calls + (c % 2);
    acc.accumulate(s, fb, qb, cnt, float(weights[c]), uint64_t(pad + done) * n, uint64_t(done) * n);
    done += cnt;
  }
  acc.finalize(s, db);
  s.submit_and_wait();
  return {vk::download_all<float>(ctx, db, size_t(n) * n), acc.cross_gram_host()};
}

class CrossGramShapes : public testing::TestWithParam<std::tuple<uint32_t, uint32_t, const char*>> {};

TEST_P(CrossGramShapes, MatchesReference) {
  auto [n, tokens, variant] = GetParam();
  ScopedVariant forced(variant);
  const uint64_t seed = test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  auto xq = test::random_floats(rng, size_t(n) * tokens, -2.f, 2.f);
  auto noise = test::random_floats(rng, size_t(n) * tokens, -0.1f, 0.1f);
  std::vector<float> xf(xq.size());
  for (size_t i = 0; i < xf.size(); ++i) xf[i] = xq[i] + noise[i];
  // Three sequences with sampled α weights (ALGORITHMS.md §2), as calibration would feed them.
  const auto alphas = ref::sample_alpha(seed, 3);
  ref::CrossGramRef want(n);
  uint32_t done = 0;
  for (uint32_t c = 0; c < 3; ++c) {
    const uint32_t cnt = c + 1 == 3 ? tokens - done : tokens / 3 + (c % 2);
    want.accumulate(xf.data() + size_t(done) * n, xq.data() + size_t(done) * n, cnt, double(float(alphas[c])));
    done += cnt;
  }
  auto got = run_cross(n, xf, xq, tokens, alphas, 3);
  // fp32 products summed with compensation: errors near fp32 rounding of each term, 1e-5 leaves margin
  // for the fp32 ΔX = X_f − X_q subtraction (relative 2^-24 of ΔX) and the fp32 weight. Each entry is
  // judged against Σ_t α|Δ_ti||x_tj| (the same sum without cancellation): a few tokens can cancel to
  // almost nothing, and then no fp32 sum is accurate relative to the result itself.
  std::vector<float> abs_f(xf.size()), abs_q(xq.size());
  for (size_t i = 0; i < xf.size(); ++i) abs_q[i] = std::fabs(xq[i]), abs_f[i] = abs_q[i] + std::fabs(xf[i] - xq[i]);
  ref::CrossGramRef scale(n);
  done = 0;
  for (uint32_t c = 0; c < 3; ++c) {
    const uint32_t cnt = c + 1 == 3 ? tokens - done : tokens / 3 + (c % 2);
    scale.accumulate(abs_f.data() + size_t(done) * n, abs_q.data() + size_t(done) * n, cnt, double(float(alphas[c])));
    done += cnt;
  }
  const auto& w = want.cross_gram();
  const auto& bound = scale.cross_gram();
  double worst_host = 0, worst_device = 0;
  for (size_t e = 0; e < w.size(); ++e) {
    const double b = std::max(bound[e], 1e-300);
    worst_host = std::max(worst_host, std::fabs(got.d_host[e] - w[e]) / b);
    worst_device = std::isfinite(got.d_device[e]) ? std::max(worst_device, std::fabs(double(got.d_device[e]) - w[e]) / b)
                                                  : INFINITY;
  }
  EXPECT_LE(worst_host, 1e-5);
  EXPECT_LE(worst_device, 1e-5);
}

INSTANTIATE_TEST_SUITE_P(Awkward, CrossGramShapes,
                         testing::Combine(testing::Values(1u, 7u, 33u, 127u, 129u), testing::Values(5u, 2500u),
                                          testing::Values("tiled")));
// The CPU form needs n % 4 == 0 (else the wrapper falls back): widths around its 16 × 8 blocks.
INSTANTIATE_TEST_SUITE_P(RegisterBlocks, CrossGramShapes,
                         testing::Combine(testing::Values(4u, 12u, 64u, 172u, 260u), testing::Values(5u, 2500u),
                                          testing::Values("cpu")));

TEST(CrossGram, IndexConventionIsDeltaRowsTimesQuantColumns) {
  // One token: D = 2 · ΔXᵀ X_q, so D[i][j] = 2 (x_f[i] − x_q[i]) x_q[j], not its transpose.
  const uint32_t n = 3;
  const std::vector<float> xf = {1.0f, 5.0f, 2.0f}, xq = {1.0f, 2.0f, 4.0f};
  auto got = run_cross(n, xf, xq, 1, {1.0}, 0);
  const std::vector<double> want = {0, 0, 0, 2 * 3 * 1, 2 * 3 * 2, 2 * 3 * 4, 2 * -2 * 1, 2 * -2 * 2, 2 * -2 * 4};
  for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(got.d_device[i], float(want[i])) << "element " << i;
}

TEST(CrossGram, HundredThousandTokensWithinOneInHundredThousand) {
  // Same-sign products are the hard case for fp32 sums.
  const uint64_t seed = test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  for (auto [n, variant] : {std::pair{33u, "tiled"}, std::pair{36u, "cpu"}}) {
    ScopedVariant forced(variant);
    const uint32_t tokens = 100000;
    auto xq = test::random_floats(rng, size_t(n) * tokens, 0.5f, 1.5f);
    auto xf = xq;
    auto shift = test::random_floats(rng, xf.size(), 0.2f, 0.3f);
    for (size_t i = 0; i < xf.size(); ++i) xf[i] += shift[i];
    ref::CrossGramRef want(n);
    want.accumulate(xf.data(), xq.data(), tokens);
    auto got = run_cross(n, xf, xq, tokens, {1.0}, 0);
    EXPECT_LE(test::max_rel_error(got.d_device, want.cross_gram()), 1e-5) << variant;  // ALGORITHMS.md §1 target
    EXPECT_LE(max_rel(got.d_host, want.cross_gram()), 1e-5) << variant;
  }
}

TEST(CrossGram, RejectsBadOperands) {
  auto& ctx = vk_context();
  kernels::CrossGramAccumulator acc(ctx, 16);
  vk::Buffer x(ctx, 16 * 4 * 10, vk::MemoryUse::Device, "activations");
  vk::Buffer big(ctx, 16 * 4 * 20, vk::MemoryUse::Device, "more activations");
  vk::Stream s(ctx);
  EXPECT_THROW(acc.accumulate(s, x, big, 11), Error);   // X_f too small
  EXPECT_THROW(acc.accumulate(s, big, x, 11), Error);   // X_q too small
  EXPECT_THROW(acc.accumulate(s, big, big, 4, NAN), Error);
  EXPECT_THROW(acc.finalize(s, big), Error);  // nothing accumulated yet
  EXPECT_NO_THROW(acc.accumulate(s, big, big, 20));
  EXPECT_THROW(acc.finalize(s, x), Error);  // 10x16 floats cannot hold a 16x16 D
  EXPECT_THROW(kernels::CrossGramAccumulator(ctx, 0), Error);
}

}  // namespace
}  // namespace vkq
