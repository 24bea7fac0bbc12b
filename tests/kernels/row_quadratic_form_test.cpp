// row_quadratic_form r_i = Σ_j G_ij E_ij vs a float64 loop, and with G = E H (gemm) vs the
// reference objective ref::rows_quadratic_loss (ALGORITHMS.md §2): awkward shapes, poisoned output.
#include <gtest/gtest.h>

#include <random>

#include "kernels/gemm.hpp"
#include "kernels/row_quadratic_form.hpp"
#include "reference/objective.hpp"
#include "support/test_seed.hpp"
#include "support/vk_test_env.hpp"

namespace vkq {
namespace {

using test::vk_context;

class RowFormShapes : public testing::TestWithParam<std::tuple<uint32_t, uint32_t>> {};

TEST_P(RowFormShapes, MatchesReferenceObjective) {
  auto [m, n] = GetParam();
  const uint64_t seed = test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  auto& ctx = vk_context();
  auto t = test::random_floats(rng, size_t(m) * n);
  auto q = test::random_floats(rng, size_t(m) * n);
  std::vector<float> e(t.size());
  for (size_t k = 0; k < e.size(); ++k) e[k] = q[k] - t[k];
  // H = BᵀB/n + I: symmetric positive definite.
  auto bm = test::random_floats(rng, size_t(n) * n);
  std::vector<double> h(size_t(n) * n, 0.0);
  for (uint32_t k = 0; k < n; ++k)
    for (uint32_t i = 0; i < n; ++i)
      for (uint32_t j = 0; j < n; ++j) h[size_t(i) * n + j] += double(bm[size_t(k) * n + i]) * bm[size_t(k) * n + j] / n;
  for (uint32_t i = 0; i < n; ++i) h[size_t(i) * n + i] += 1.0;
  const std::vector<float> hf(h.begin(), h.end());
  auto eb = vk::upload_new(ctx, e, "E");
  auto hb = vk::upload_new(ctx, hf, "H");
  auto gb = vk::upload_new(ctx, test::poisoned(e.size()), "G");
  auto rb = vk::upload_new(ctx, test::poisoned(size_t(m) + 2), "r");
  kernels::Gemm gemm(ctx);
  kernels::RowQuadraticForm form(ctx);
  vk::Stream s(ctx);
  kernels::GemmShape gs;
  gs.m = m, gs.n = n, gs.k = n;
  gemm.run(s, eb, hb, gb, gs);  // G = E Hᵀ = E H
  s.barrier();
  kernels::RowDotShape rd;
  rd.m = m, rd.n = n, rd.r_offset = 2;
  form.run(s, gb, eb, rb, rd);
  s.submit_and_wait();
  const auto r = vk::download_all<float>(ctx, rb, size_t(m) + 2);
  const std::vector<double> td(t.begin(), t.end()), qd(q.begin(), q.end()), hd(hf.begin(), hf.end());
  // E is exact in both (fp32 q − t is the input); the reference sees the same fp32 H.
  std::vector<double> ed(e.begin(), e.end()), zero(e.size(), 0.0);
  const auto want = ref::rows_quadratic_loss(ed.data(), zero.data(), m, n, hd.data());
  EXPECT_TRUE(std::isnan(r[0]) && std::isnan(r[1]));  // before r_offset: untouched
  const std::vector<float> got(r.begin() + 2, r.end());
  // Two fp32 reductions of length n ≤ 300 over positive-definite terms: 1e-5 relative.
  EXPECT_LE(test::max_rel_error(got, want), 1e-5);
}

INSTANTIATE_TEST_SUITE_P(Awkward, RowFormShapes,
                         testing::Combine(testing::Values(1u, 7u, 33u, 129u), testing::Values(1u, 7u, 127u, 300u)));

TEST(RowQuadraticForm, RejectsBadOperands) {
  auto& ctx = vk_context();
  kernels::RowQuadraticForm form(ctx);
  vk::Buffer g(ctx, 64 * 64 * 4, vk::MemoryUse::Device, "G");
  vk::Buffer small(ctx, 10 * 4, vk::MemoryUse::Device, "small");
  vk::Stream s(ctx);
  kernels::RowDotShape rd;
  rd.m = 64, rd.n = 64;
  EXPECT_THROW(form.run(s, g, small, g, rd), Error);  // E does not fit
  EXPECT_THROW(form.run(s, g, g, small, rd), Error);  // r does not fit
}

}  // namespace
}  // namespace vkq
