// quant::DeviceGroupRefit (the group refits' normal equations assembled on the device, solved on the host)
// against the float64 ref::refit_rows_from_codes: every row's refitted objective within fp32 noise of the
// reference's, below the starting params', and the same params whatever the row chunking.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "kernels/gemm.hpp"
#include "kernels/group_refit_terms.hpp"
#include "quant/group_refit.hpp"
#include "reference/grid.hpp"
#include "reference/objective.hpp"
#include "reference/reference_fixtures.hpp"
#include "reference/row_refit.hpp"
#include "support/test_seed.hpp"
#include "support/vk_test_env.hpp"

namespace vkq {
namespace {

double row_objective(const double* t, const int32_t* codes, size_t n, const double* h, const ref::GridSpec& spec,
                     const ref::GroupParams* params) {
  const size_t g = ref::group_size(spec, n);
  std::vector<double> q(n);
  for (size_t j = 0; j < n; ++j) q[j] = ref::dequantize_code(codes[j], params[j / g], spec);
  return ref::rows_quadratic_loss(t, q.data(), 1, n, h)[0];
}

TEST(DeviceGroupRefit, MatchesFloat64ReferenceInAnyRowChunking) {
  const uint64_t seed = test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  auto& ctx = test::vk_context();
  const uint32_t m = 37, n = 96;  // Q formats: 3 groups of 32; INT g40: two full groups and a partial one
  const test::Calibration cal = test::correlated_calibration(rng, n, 400);
  const std::vector<float> hf(cal.h.begin(), cal.h.end());
  const std::vector<double> h(hf.begin(), hf.end());  // both sides see the same fp32 H̃
  const std::vector<float> wf = test::normal_weights(rng, m, n);
  const std::vector<double> t(wf.begin(), wf.end());
  auto tb = vk::upload_new(ctx, wf, "T");
  auto hb = vk::upload_new(ctx, hf, "H");
  kernels::Gemm gemm(ctx);
  kernels::GroupRefitTerms terms(ctx, gemm);
  struct Case {
    ref::GridFormat format;
    int bits;
    size_t group;
  };
  for (const Case c : {Case{ref::GridFormat::Q4_0, 4, 32}, Case{ref::GridFormat::Q5_1, 5, 32},
                       Case{ref::GridFormat::Q8_0, 8, 32}, Case{ref::GridFormat::INT, 3, 40}}) {
    ref::GridSpec spec;
    spec.format = c.format, spec.bits = c.bits, spec.group = c.group;
    const std::string what = "format " + std::to_string(int(c.format));
    // Codes from min-max params shrunk to 0.9, so the refit has something to find.
    std::vector<ref::GroupParams> cur = ref::encode_matrix(t.data(), m, n, spec).params;
    for (auto& p : cur) p.scale = ref::stored_value(spec, p.scale * 0.9);
    const ref::EncodedMatrix e = ref::encode_with_params(t.data(), m, n, spec, cur);
    const auto want = ref::refit_rows_from_codes(t.data(), e.codes.data(), m, n, h.data(), spec, cur);
    quant::DeviceGroupRefit whole(ctx, gemm, terms, spec, tb, hb, m, n);
    const auto got = whole.refit(e.codes, cur);
    quant::DeviceGroupRefit chunked(ctx, gemm, terms, spec, tb, hb, m, n);
    chunked.set_chunk_bytes(uint64_t(5) * 9 * 3 * 4);  // 5 rows of 3 × 3 groups' terms: chunks of 5, …, 2
    const auto got_chunked = chunked.refit(e.codes, cur);
    const size_t ng = ref::groups_per_row(spec, n);
    ASSERT_EQ(got.size(), size_t(m) * ng) << what;
    ASSERT_EQ(got_chunked.size(), got.size()) << what;
    for (size_t k = 0; k < got.size(); ++k)
      ASSERT_TRUE(got[k].scale == got_chunked[k].scale && got[k].min == got_chunked[k].min) << what << " group " << k;
    double worst = 0, worst_gain = 1;
    for (size_t i = 0; i < m; ++i) {
      const int32_t* codes = e.codes.data() + i * n;
      const double before = row_objective(t.data() + i * n, codes, n, h.data(), spec, cur.data() + i * ng);
      const double ref_after = row_objective(t.data() + i * n, codes, n, h.data(), spec, want.data() + i * ng);
      const double dev_after = row_objective(t.data() + i * n, codes, n, h.data(), spec, got.data() + i * ng);
      EXPECT_LT(dev_after, before) << what << " row " << i;
      worst = std::max(worst, std::abs(dev_after - ref_after) / ref_after);
      if (before > ref_after) worst_gain = std::min(worst_gain, (before - dev_after) / (before - ref_after));
      for (size_t k = 0; k < ng; ++k) {
        EXPECT_EQ(got[i * ng + k].scale, ref::stored_value(spec, got[i * ng + k].scale)) << what;  // as stored
        EXPECT_EQ(got[i * ng + k].zero, cur[i * ng + k].zero) << what;
      }
    }
    // At the optimum the objective is flat to first order, so fp32 terms move it far less than they move
    // the params; the GGUF formats' fp16 rounding may still land on a neighbour. Measured over 45 seeds:
    // gap ≤ 1.2e-3 and ≥ 98.9 % of the reference's gain in every row (Q5_1, whose min columns make the
    // system the least well conditioned); the others agree to 1e-10.
    EXPECT_LE(worst, 5e-3) << what;
    EXPECT_GE(worst_gain, 0.95) << what;
    RecordProperty(what + " worst relative objective gap", std::to_string(worst));
    std::printf("%s: worst relative objective gap to the reference %.3g, worst share of its gain %.6f\n", what.c_str(), worst, worst_gain);
  }
}

}  // namespace
}  // namespace vkq
