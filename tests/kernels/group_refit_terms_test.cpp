// group_refit_terms (per group column a gemm, then a reduction: the code-dependent pieces ss, sm, ms of each
// row's group-refit normal equations) vs ref::row_refit_terms in float64: awkward row counts, partial last
// groups, one group per row, the ones row anywhere, outputs poisoned and words past the end left untouched.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "kernels/gemm.hpp"
#include "kernels/group_refit_terms.hpp"
#include "reference/grid.hpp"
#include "reference/row_refit.hpp"
#include "support/test_seed.hpp"
#include "support/vk_test_env.hpp"

namespace vkq {
namespace {

using test::vk_context;

struct TermsShape {
  uint32_t rows, n, group;
  bool with_min;  // Q5_1 (groups of 32) when set, an INT grid of `group` columns otherwise
};

class GroupRefitTermsShapes : public testing::TestWithParam<TermsShape> {};

TEST_P(GroupRefitTermsShapes, MatchFloat64Reference) {
  const TermsShape sh = GetParam();
  const uint64_t seed = test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  auto& ctx = vk_context();
  const uint32_t n = sh.n;
  ref::GridSpec spec;
  spec.format = sh.with_min ? ref::GridFormat::Q5_1 : ref::GridFormat::INT;
  spec.bits = 4, spec.group = sh.group;
  ASSERT_EQ(ref::group_size(spec, n), sh.group);
  // H̃ positive definite but not symmetric in fp32 (the kernel must not assume it), u small integers
  // (exact in fp32, like decoded codes), one row of ones at a random place.
  const auto hf = test::random_floats(rng, size_t(n) * n);
  std::uniform_int_distribution<int> code(-16, 15);
  std::vector<float> uf(size_t(sh.rows) * n);
  for (auto& x : uf) x = float(code(rng));
  const uint32_t ones = uint32_t(rng() % sh.rows);
  std::fill(uf.begin() + ptrdiff_t(size_t(ones) * n), uf.begin() + ptrdiff_t(size_t(ones + 1) * n), 1.0f);
  kernels::GroupRefitShape rs;
  rs.rows = sh.rows, rs.n = n, rs.group = sh.group, rs.ones_row = ones, rs.with_min = sh.with_min;
  const uint32_t ng = rs.groups();
  const size_t per_row = size_t(ng) * ng, out_len = size_t(sh.rows) * per_row + 7;  // 7 words past the end
  auto hb = vk::upload_new(ctx, hf, "H");
  auto ub = vk::upload_new(ctx, uf, "U");
  auto zb = vk::upload_new(ctx, test::poisoned(uf.size()), "Z");
  auto ssb = vk::upload_new(ctx, test::poisoned(out_len), "ss");
  auto smb = vk::upload_new(ctx, test::poisoned(out_len), "sm");
  auto msb = vk::upload_new(ctx, test::poisoned(out_len), "ms");
  kernels::Gemm gemm(ctx);
  kernels::GroupRefitTerms terms(ctx, gemm);
  vk::Stream s(ctx);
  terms.run(s, hb, ub, zb, ssb, smb, msb, rs);
  s.submit_and_wait();
  const auto ss = vk::download_all<float>(ctx, ssb, out_len);
  const auto sm = vk::download_all<float>(ctx, smb, out_len);
  const auto ms = vk::download_all<float>(ctx, msb, out_len);

  const std::vector<double> hd(hf.begin(), hf.end());
  std::vector<double> habs(hd.size()), t(n, 0.0);
  for (size_t k = 0; k < hd.size(); ++k) habs[k] = std::abs(hd[k]);
  size_t checked = 0;
  for (uint32_t r = 0; r < sh.rows; ++r) {
    const std::vector<double> u(uf.begin() + ptrdiff_t(size_t(r) * n), uf.begin() + ptrdiff_t(size_t(r + 1) * n));
    std::vector<double> uabs(n);
    for (uint32_t j = 0; j < n; ++j) uabs[j] = std::abs(u[j]);
    const auto want = ref::row_refit_terms(t.data(), u.data(), n, hd.data(), spec);
    const auto bound = ref::row_refit_terms(t.data(), uabs.data(), n, habs.data(), spec);  // Σ of |terms|
    // fp32 sums of at most group² products: error ≤ about 2 · group · 2⁻²⁴ of the sum of magnitudes.
    const double tol = 4.0 * sh.group * 6e-8;
    for (size_t e = 0; e < per_row; ++e) {
      const size_t at = r * per_row + e;
      ASSERT_TRUE(std::isfinite(ss[at])) << "row " << r << " entry " << e;
      EXPECT_LE(std::abs(ss[at] - want.ss[e]), tol * bound.ss[e] + 1e-30) << "ss row " << r << " entry " << e;
      if (sh.with_min) {
        EXPECT_LE(std::abs(sm[at] - want.sm[e]), tol * bound.sm[e] + 1e-30) << "sm row " << r << " entry " << e;
        EXPECT_LE(std::abs(ms[at] - want.ms[e]), tol * bound.ms[e] + 1e-30) << "ms row " << r << " entry " << e;
      }
      ++checked;
    }
  }
  EXPECT_EQ(checked, size_t(sh.rows) * per_row);
  for (size_t e = size_t(sh.rows) * per_row; e < out_len; ++e) EXPECT_TRUE(std::isnan(ss[e])) << "past the rows";
  if (!sh.with_min) {
    for (size_t e = 0; e < out_len; ++e) ASSERT_TRUE(std::isnan(sm[e]) && std::isnan(ms[e])) << "sm/ms written without a min";
  }
}

INSTANTIATE_TEST_SUITE_P(Awkward, GroupRefitTermsShapes,
                         testing::Values(TermsShape{1, 32, 32, false}, TermsShape{7, 96, 32, true},
                                         TermsShape{65, 160, 64, false},   // a partial last group
                                         TermsShape{33, 127, 127, false},  // one group per row, odd n
                                         TermsShape{70, 100, 32, true},    // rows past a workgroup, partial group
                                         TermsShape{9, 90, 30, false}));   // group and n not multiples of 4

TEST(GroupRefitTerms, RejectsBadOperands) {
  auto& ctx = vk_context();
  kernels::Gemm gemm(ctx);
  kernels::GroupRefitTerms terms(ctx, gemm);
  vk::Buffer h(ctx, 64 * 64 * 4, vk::MemoryUse::Device, "H");
  vk::Buffer small(ctx, 4 * 4, vk::MemoryUse::Device, "small");  // one row's 2 × 2 terms, two rows asked
  vk::Buffer out(ctx, 2 * 2 * 2 * 4, vk::MemoryUse::Device, "out");
  vk::Buffer z(ctx, 2 * 64 * 4, vk::MemoryUse::Device, "Z");
  vk::Stream s(ctx);
  kernels::GroupRefitShape rs;
  rs.rows = 2, rs.n = 64, rs.group = 32, rs.ones_row = 1, rs.with_min = true;
  EXPECT_THROW(terms.run(s, small, h, z, out, out, out, rs), Error);  // H does not fit
  EXPECT_THROW(terms.run(s, h, h, small, out, out, out, rs), Error);  // Z does not fit
  EXPECT_THROW(terms.run(s, h, h, z, small, out, out, rs), Error);    // ss does not fit
  EXPECT_THROW(terms.run(s, h, h, z, out, out, small, rs), Error);    // ms does not fit
  rs.ones_row = 2;
  EXPECT_THROW(terms.run(s, h, h, z, out, out, out, rs), Error);  // the ones row past the rows
  rs.ones_row = 1, rs.group = 0;
  EXPECT_THROW(terms.run(s, h, h, z, out, out, out, rs), Error);
}

}  // namespace
}  // namespace vkq
