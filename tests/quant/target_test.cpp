// quant::ShiftedTarget (T = W + coef · ((W D) Uᵀ) U, ALGORITHMS.md §2) vs ref::shifted_target on
// fresh random W, D and an SPD H̃ whose U comes from ref::upper_cholesky_of_inverse; dead columns,
// α = 0 (T = W exactly), sampled α (coef 1), poisoned T.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "quant/target.hpp"
#include "reference/cholesky.hpp"
#include "reference/regularize.hpp"
#include "support/test_seed.hpp"
#include "support/vk_test_env.hpp"

namespace vkq {
namespace {

using test::vk_context;

struct Problem {
  uint32_t m, n;
  std::vector<float> w, d, u;  // device inputs (fp32)
  std::vector<double> h_reg;   // H̃ (float64, from the fp32-valued H)
  std::vector<size_t> dead;
};

// H = (2/N) XᵀX with the dead channels' activations zero, H̃ = H (dead diagonals 1) + 0.01 μ I.
Problem make_problem(std::mt19937_64& rng, uint32_t m, uint32_t n, std::vector<size_t> dead) {
  Problem p{m, n, test::random_floats(rng, size_t(m) * n), {}, {}, {}, dead};
  const uint32_t tokens = n + 20;
  auto x = test::random_floats(rng, size_t(tokens) * n);
  for (size_t j : dead)
    for (uint32_t t = 0; t < tokens; ++t) x[size_t(t) * n + j] = 0.0f;
  std::vector<double> h(size_t(n) * n, 0.0);
  for (uint32_t t = 0; t < tokens; ++t)
    for (uint32_t i = 0; i < n; ++i)
      for (uint32_t j = 0; j < n; ++j) h[size_t(i) * n + j] += 2.0 / tokens * x[size_t(t) * n + i] * x[size_t(t) * n + j];
  ref::fix_dead_columns(h, n);
  p.h_reg = ref::regularized_gram(h, n, ref::diag_mean(h, n), 0.01, 0, {});
  // D = (2/N) ΔXᵀ X_q with a small ΔX; a dead channel's column j is exactly 0 (X_q[·][j] = 0).
  auto dx = test::random_floats(rng, size_t(tokens) * n, -0.1f, 0.1f);
  std::vector<double> d(size_t(n) * n, 0.0);
  for (uint32_t t = 0; t < tokens; ++t)
    for (uint32_t i = 0; i < n; ++i)
      for (uint32_t j = 0; j < n; ++j) d[size_t(i) * n + j] += 2.0 / tokens * dx[size_t(t) * n + i] * x[size_t(t) * n + j];
  p.d.assign(d.begin(), d.end());
  std::vector<double> l = p.h_reg;
  EXPECT_TRUE(ref::cholesky_lower(l, n).ok);
  std::vector<double> u;
  EXPECT_TRUE(ref::upper_cholesky_of_inverse(l, n, u).ok);
  p.u.assign(u.begin(), u.end());
  return p;
}

// The reference pipeline of ref::layer_quant: W and D dead columns zeroed, shift, T dead columns zeroed.
// Solved in act-order (a permuted Cholesky), which must not change T.
std::vector<double> reference_target(const Problem& p, double coef) {
  std::vector<double> w(p.w.begin(), p.w.end()), d(p.d.begin(), p.d.end());
  ref::zero_columns(w, p.m, p.n, p.dead);
  ref::zero_columns(d, p.n, p.n, p.dead);
  const auto order = ref::act_order_permutation(p.h_reg, p.n);
  auto l_perm = ref::permute_symmetric(p.h_reg, p.n, order);
  EXPECT_TRUE(ref::cholesky_lower(l_perm, p.n).ok);
  auto t = ref::shifted_target(w, p.m, p.n, d, coef, l_perm, order);
  ref::zero_columns(t, p.m, p.n, p.dead);
  return t;
}

std::vector<float> device_target(const Problem& p, double coef) {
  auto& ctx = vk_context();
  auto wb = vk::upload_new(ctx, p.w, "W");
  auto db = vk::upload_new(ctx, p.d, "D");
  auto ub = vk::upload_new(ctx, p.u, "U");
  auto tb = vk::upload_new(ctx, test::poisoned(size_t(p.m) * p.n), "T");
  quant::ShiftedTarget target(ctx);
  vk::Stream s(ctx);
  std::vector<uint32_t> dead(p.dead.begin(), p.dead.end());
  target.run(s, wb, db, ub, tb, p.m, p.n, coef, dead);
  s.submit_and_wait();
  return vk::download_all<float>(ctx, tb, size_t(p.m) * p.n);
}

class TargetShapes : public testing::TestWithParam<std::tuple<uint32_t, uint32_t>> {};

TEST_P(TargetShapes, MatchesReference) {
  auto [m, n] = GetParam();
  const uint64_t seed = test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  std::vector<size_t> dead;
  if (n > 2) dead = {1, size_t(n) - 1};
  const Problem p = make_problem(rng, m, n, dead);
  for (double coef : {0.25, 1.0}) {
    const auto want = reference_target(p, coef);
    const auto got = device_target(p, coef);
    // The shift T − W' comes from three fp32 gemms of length n ≤ 200 through a well-damped H̃
    // (κ ≲ 1e3): 1e-4 relative to the largest shift, plus T's own fp32 rounding (2^-23 of max|T|),
    // which dominates when the shift is small next to W.
    double err = 0, shift_max = 0, t_max = 0;
    for (size_t e = 0; e < want.size(); ++e) {
      const bool is_dead = std::find(dead.begin(), dead.end(), e % n) != dead.end();
      const double w = is_dead ? 0.0 : p.w[e];
      ASSERT_TRUE(std::isfinite(got[e])) << "element " << e << " not written";
      err = std::max(err, std::abs(double(got[e]) - want[e]));
      shift_max = std::max(shift_max, std::abs(want[e] - w));
      t_max = std::max(t_max, std::abs(want[e]));
    }
    EXPECT_LE(err, 1e-4 * shift_max + 1.2e-7 * t_max) << "coef " << coef;
    for (uint32_t i = 0; i < m; ++i)
      for (size_t j : dead) ASSERT_EQ(got[size_t(i) * n + j], 0.0f) << "dead column " << j << " row " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Awkward, TargetShapes,
                         testing::Combine(testing::Values(1u, 7u, 33u), testing::Values(1u, 7u, 129u, 200u)));

TEST(Target, AlphaZeroIsWExactly) {
  const uint64_t seed = test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  const Problem p = make_problem(rng, 9, 33, {4});
  const auto got = device_target(p, 0.0);
  for (size_t e = 0; e < got.size(); ++e) ASSERT_EQ(got[e], e % 33 == 4 ? 0.0f : p.w[e]) << "element " << e;
}

TEST(Target, Coefficient) {
  EXPECT_EQ(quant::target_coefficient(ref::AlphaMode::fixed, 0.25), 0.25);
  EXPECT_EQ(quant::target_coefficient(ref::AlphaMode::sampled, 0.25), 1.0);  // D carries the α_s
  EXPECT_THROW(quant::target_coefficient(ref::AlphaMode::fixed, 1.5), Error);
  EXPECT_THROW(quant::target_coefficient(ref::AlphaMode::fixed, NAN), Error);
}

TEST(Target, RejectsBadOperands) {
  auto& ctx = vk_context();
  quant::ShiftedTarget target(ctx);
  vk::Buffer big(ctx, 64 * 64 * 4, vk::MemoryUse::Device, "big");
  vk::Buffer small(ctx, 100 * 4, vk::MemoryUse::Device, "small");
  vk::Stream s(ctx);
  EXPECT_THROW(target.run(s, small, big, big, big, 64, 64, 0.5), Error);  // W
  EXPECT_THROW(target.run(s, big, small, big, big, 64, 64, 0.5), Error);  // D
  EXPECT_THROW(target.run(s, big, big, small, big, 64, 64, 0.5), Error);  // U
  EXPECT_THROW(target.run(s, big, big, big, big, 64, 64, 0.5, {64}), Error);  // dead column out of range
}

}  // namespace
}  // namespace vkq
