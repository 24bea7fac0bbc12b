// ref::refit_rows_from_codes (a row's group params refitted jointly from fixed codes under H̃) against an
// independent dense least-squares solve, its optimality and awkward rows; and the refit-and-sweep-again
// loop of quantize_layer (--group-refits), which never raises a row's loss.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "reference/grid.hpp"
#include "reference/layer_quant.hpp"
#include "reference/objective.hpp"
#include "reference/row_refit.hpp"
#include "reference/reference_fixtures.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::ref {
namespace {

GridSpec grid(GridFormat f, int bits, size_t group) {
  GridSpec s;
  s.format = f;
  s.bits = bits;
  s.group = group;
  return s;
}

double row_objective(const double* t, const int32_t* codes, size_t n, const double* h, const GridSpec& spec,
                     const GroupParams* params) {
  const size_t g = group_size(spec, n);
  std::vector<double> q(n);
  for (size_t j = 0; j < n; ++j) q[j] = dequantize_code(codes[j], params[j / g], spec);
  return rows_quadratic_loss(t, q.data(), 1, n, h)[0];
}

// The unstored optimum by brute force: the dense design matrix A (n × unknowns), AᵀH̃A and AᵀH̃t by plain
// triple loops, solved by Gaussian elimination with partial pivoting.
std::vector<double> dense_least_squares(const double* t, const int32_t* codes, size_t n, const double* h,
                                        const GridSpec& spec, const GroupParams* cur, bool offset) {
  const size_t g = group_size(spec, n), ng = groups_per_row(spec, n), p = ng * (offset ? 2 : 1);
  std::vector<double> a(n * p, 0.0);
  for (size_t j = 0; j < n; ++j) {
    GroupParams unit = cur[j / g];
    unit.scale = 1, unit.min = 0;
    a[j * p + (j / g) * (offset ? 2 : 1)] = dequantize_code(codes[j], unit, spec);
    if (offset) a[j * p + (j / g) * 2 + 1] = 1.0;
  }
  std::vector<double> m(p * (p + 1), 0.0);
  for (size_t r = 0; r < p; ++r) {
    for (size_t c = 0; c < p; ++c)
      for (size_t j = 0; j < n; ++j)
        for (size_t l = 0; l < n; ++l) m[r * (p + 1) + c] += a[j * p + r] * h[j * n + l] * a[l * p + c];
    for (size_t j = 0; j < n; ++j)
      for (size_t l = 0; l < n; ++l) m[r * (p + 1) + p] += a[j * p + r] * h[j * n + l] * t[l];
  }
  for (size_t c = 0; c < p; ++c) {
    size_t piv = c;
    for (size_t r = c + 1; r < p; ++r)
      if (std::fabs(m[r * (p + 1) + c]) > std::fabs(m[piv * (p + 1) + c])) piv = r;
    for (size_t k = 0; k <= p; ++k) std::swap(m[c * (p + 1) + k], m[piv * (p + 1) + k]);
    for (size_t r = 0; r < p; ++r) {
      if (r == c) continue;
      const double f = m[r * (p + 1) + c] / m[c * (p + 1) + c];
      for (size_t k = c; k <= p; ++k) m[r * (p + 1) + k] -= f * m[c * (p + 1) + k];
    }
  }
  std::vector<double> x(p);
  for (size_t r = 0; r < p; ++r) x[r] = m[r * (p + 1) + p] / m[r * (p + 1) + r];
  return x;
}

struct Case {
  GridFormat format;
  int bits;
  size_t group;
};

// INT keeps float64 parameters, so the refit is the exact optimum; the GGUF formats round it to fp16, each
// value within half an fp16 step of it, and the stored fit is never worse than the current params by more
// than that rounding costs.
TEST(RowRefit, EqualsTheDenseLeastSquaresSolveAndLowersTheRowObjective) {
  const uint64_t seed = test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  const size_t m = 5, n = 96;  // 3 groups of 32; INT g40: 2 full groups and a partial one
  const test::Calibration cal = test::correlated_calibration(rng, n, 400);
  const std::vector<float> wf = test::normal_weights(rng, m, n);
  const std::vector<double> t(wf.begin(), wf.end());
  for (const Case c : {Case{GridFormat::Q4_0, 4, 32}, Case{GridFormat::Q5_0, 5, 32}, Case{GridFormat::Q4_1, 4, 32},
                       Case{GridFormat::Q5_1, 5, 32}, Case{GridFormat::Q8_0, 8, 32}, Case{GridFormat::INT, 3, 40}}) {
    const GridSpec spec = grid(c.format, c.bits, c.group);
    const bool offset = c.format == GridFormat::Q4_1 || c.format == GridFormat::Q5_1;
    // Codes from min-max params shrunk to 0.9: deliberately not the codes' best params.
    const EncodedMatrix start = encode_matrix(t.data(), m, n, spec);
    std::vector<GroupParams> cur = start.params;
    for (auto& p : cur) p.scale = stored_value(spec, p.scale * 0.9);
    const EncodedMatrix e = encode_with_params(t.data(), m, n, spec, cur);
    const std::vector<GroupParams> got = refit_rows_from_codes(t.data(), e.codes.data(), m, n, cal.h.data(), spec, cur);
    const size_t ng = groups_per_row(spec, n);
    ASSERT_EQ(got.size(), m * ng);
    for (size_t i = 0; i < m; ++i) {
      const std::vector<double> want =
          dense_least_squares(t.data() + i * n, e.codes.data() + i * n, n, cal.h.data(), spec, cur.data() + i * ng, offset);
      for (size_t k = 0; k < ng; ++k) {
        const double ws = want[k * (offset ? 2 : 1)];
        const double tol = c.format == GridFormat::INT ? 1e-9 * std::fabs(ws) : std::ldexp(std::fabs(ws), -10);
        EXPECT_NEAR(got[i * ng + k].scale, ws, tol) << "format " << int(c.format) << " row " << i << " group " << k;
        EXPECT_EQ(got[i * ng + k].scale, stored_value(spec, got[i * ng + k].scale));
        if (offset) {
          const double wm = want[k * 2 + 1];
          EXPECT_NEAR(got[i * ng + k].min, wm, std::ldexp(std::fabs(wm), -10) + 1e-7) << "row " << i << " group " << k;
        } else {
          EXPECT_EQ(got[i * ng + k].min, cur[i * ng + k].min);
        }
        EXPECT_EQ(got[i * ng + k].zero, cur[i * ng + k].zero);
      }
      const double before = row_objective(t.data() + i * n, e.codes.data() + i * n, n, cal.h.data(), spec, cur.data() + i * ng);
      const double after = row_objective(t.data() + i * n, e.codes.data() + i * n, n, cal.h.data(), spec, got.data() + i * ng);
      EXPECT_LT(after, before) << "format " << int(c.format) << " row " << i;
      if (c.format == GridFormat::INT) {  // the exact optimum: any nudge of one scale raises the objective
        for (size_t k = 0; k < ng; ++k)
          for (const double f : {0.999, 1.001}) {
            std::vector<GroupParams> nudged(got.begin() + i * ng, got.begin() + (i + 1) * ng);
            nudged[k].scale *= f;
            EXPECT_GT(row_objective(t.data() + i * n, e.codes.data() + i * n, n, cal.h.data(), spec, nudged.data()), after);
          }
      }
    }
  }
}

// A row already on its grid comes back exact; a group whose codes all decode to 0 keeps its scale; a
// row with no live group keeps its params; a refitted scale that would flip sign keeps the current one.
TEST(RowRefit, AwkwardRows) {
  const size_t n = 64;
  std::vector<double> h(n * n, 0.0);
  for (size_t j = 0; j < n; ++j) h[j * n + j] = 1.0 + 0.01 * double(j);
  const GridSpec spec = grid(GridFormat::Q4_0, 4, 32);
  std::vector<GroupParams> cur(2);
  cur[0].scale = 0.0625, cur[0].zero = 8;
  cur[1].scale = -0.125, cur[1].zero = 8;
  std::vector<int32_t> codes(n);
  std::vector<double> t(n);
  for (size_t j = 0; j < n; ++j) {
    codes[j] = int32_t((j * 7) % 16);
    t[j] = dequantize_code(codes[j], cur[j / 32], spec);
  }
  std::vector<GroupParams> start = cur;
  start[0].scale = 0.05, start[1].scale = -0.1;
  auto got = refit_rows_from_codes(t.data(), codes.data(), 1, n, h.data(), spec, start);
  EXPECT_EQ(got[0].scale, 0.0625);
  EXPECT_EQ(got[1].scale, -0.125);

  std::vector<int32_t> dead_group = codes;
  std::fill(dead_group.begin() + 32, dead_group.end(), 8);  // decodes to 0 whatever the scale
  got = refit_rows_from_codes(t.data(), dead_group.data(), 1, n, h.data(), spec, start);
  EXPECT_EQ(got[0].scale, 0.0625);
  EXPECT_EQ(got[1].scale, start[1].scale);

  std::vector<int32_t> all_dead(n, 8);
  got = refit_rows_from_codes(t.data(), all_dead.data(), 1, n, h.data(), spec, start);
  EXPECT_EQ(got[0].scale, start[0].scale);
  EXPECT_EQ(got[1].scale, start[1].scale);

  std::vector<double> flipped = t;
  for (size_t j = 32; j < n; ++j) flipped[j] = -t[j];  // the fit of group 1 has the other sign
  got = refit_rows_from_codes(flipped.data(), codes.data(), 1, n, h.data(), spec, start);
  EXPECT_EQ(got[0].scale, 0.0625);
  EXPECT_EQ(got[1].scale, start[1].scale);

  EXPECT_THROW(refit_rows_from_codes(t.data(), codes.data(), 1, 48, h.data(), spec, start), Error);  // 48 % 32
}

// quantize_layer with group refits: each row keeps the better of its sweeps, so no row's loss rises; on
// correlated inputs some row gains; the kept rows decode consistently; dynamic groups are refused.
TEST(RowRefit, RefitSweepNeverRaisesARowsLoss) {
  const uint64_t seed = test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  const size_t m = 12, n = 128;
  const test::Calibration cal = test::correlated_calibration(rng, n, 600);
  const std::vector<float> w = test::normal_weights(rng, m, n);
  for (const Case c : {Case{GridFormat::Q4_0, 4, 32}, Case{GridFormat::Q5_1, 5, 32}, Case{GridFormat::INT, 3, 32}}) {
    for (const Method method : {Method::gptq, Method::beam}) {
      LayerQuantOptions o;
      o.grid = grid(c.format, c.bits, c.group);
      o.method = method;
      o.beam_width = 2;
      o.block = 32;
      const LayerQuantResult plain = quantize_layer(w, m, n, cal.h, o);
      EXPECT_EQ(plain.refit_rows, 0u);
      o.group_refits = 2;
      const LayerQuantResult refit = quantize_layer(w, m, n, cal.h, o);
      double sum_plain = 0, sum_refit = 0;
      for (size_t i = 0; i < m; ++i) {
        EXPECT_LE(refit.row_loss[i], plain.row_loss[i]) << "row " << i;
        sum_plain += plain.row_loss[i], sum_refit += refit.row_loss[i];
      }
      const std::string what = "format " + std::to_string(int(c.format)) + " method " + std::to_string(int(method));
      EXPECT_NEAR(refit.refit_row_loss_before, sum_plain / m, 1e-12 * sum_plain) << what;
      EXPECT_GT(refit.refit_rows, 0u) << what;
      EXPECT_LT(sum_refit, sum_plain) << what;
      const size_t g = group_size(o.grid, n), gpr = groups_per_row(o.grid, n);
      for (size_t i = 0; i < m; ++i)
        for (size_t j = 0; j < n; ++j)
          ASSERT_EQ(refit.dequantized[i * n + j], dequantize_code(refit.codes[i * n + j], refit.params[i * gpr + j / g], o.grid))
              << what << " " << i << "," << j;
    }
  }
  LayerQuantOptions dynamic;
  dynamic.grid = grid(GridFormat::INT, 4, 32);
  dynamic.static_groups = false;
  dynamic.act_order = false;
  dynamic.group_refits = 1;
  EXPECT_THROW(quantize_layer(w, m, n, cal.h, dynamic), Error);
}

}  // namespace
}  // namespace vkq::ref
