// A GBS sweep problem shared by the sweep, beam and GBS tests: correlated calibration statistics,
// H̃ = H + δ μ I, natural or act-order, U from the float64 reference Cholesky narrowed to fp32, and
// T in fp32. The reference runs on exactly the fp32 values the device gets (widened), so the only
// difference left is fp32 vs float64 arithmetic.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "reference/cholesky.hpp"
#include "reference/gptq.hpp"
#include "reference/grid.hpp"
#include "reference/reference_fixtures.hpp"
#include "reference/regularize.hpp"
#include "reference/rtn.hpp"

namespace vkq::test {

// Grid specs and the named (grid, shape, block) cases the GBS sweep, beam and solver tests share.
inline ref::GridSpec int_grid(int bits, size_t group, bool sym) {
  ref::GridSpec s;
  s.bits = bits, s.group = group, s.symmetric = sym;
  return s;
}
inline ref::GridSpec gguf_grid(ref::GridFormat f) {
  ref::GridSpec s;
  s.format = f, s.group = 32;
  return s;
}

struct GbsConfig {
  std::string name;
  ref::GridSpec spec;
  uint32_t m, n, block;
};

struct GbsProblem {
  uint32_t m = 0, n = 0;
  ref::GridSpec spec;
  std::vector<size_t> order;
  std::vector<uint32_t> perm;                 // order as uint32 for the device
  std::vector<float> t, t_perm, u;            // T (original and processing order), U (fp32)
  std::vector<double> t_d, u_d, h_reg_perm;   // widened fp32 values for the reference
  std::vector<ref::GroupParams> static_params;  // min-max from T, narrowed to fp32
  std::vector<float> static_params_dev;         // the same as vec4(scale, zero, min, 0)

  ref::SweepProblem problem() const {
    ref::SweepProblem pb;
    pb.target = t_d.data();
    pb.rows = m;
    pb.cols = n;
    pb.u = u_d.data();
    pb.h_reg_perm = h_reg_perm.data();
    pb.order = order;
    return pb;
  }
};

inline std::vector<float> params_to_device(const std::vector<ref::GroupParams>& ps) {
  std::vector<float> out(ps.size() * 4);
  for (size_t i = 0; i < ps.size(); ++i) {
    out[i * 4] = float(ps[i].scale), out[i * 4 + 1] = float(ps[i].zero), out[i * 4 + 2] = float(ps[i].min);
    out[i * 4 + 3] = 0.0f;
  }
  return out;
}

// damp: δ relative to μ; 0.1 gives a well-conditioned H̃ (codes match the reference), 0.01 is the default.
inline GbsProblem make_gbs_problem(std::mt19937_64& rng, uint32_t m, uint32_t n, const ref::GridSpec& spec,
                                   bool act_order, double damp) {
  GbsProblem p;
  p.m = m, p.n = n, p.spec = spec;
  const auto c = correlated_calibration(rng, n, 2 * n + 8);
  p.t = normal_weights(rng, m, n);
  p.t_d.assign(p.t.begin(), p.t.end());
  const auto h_reg = ref::regularized_gram(c.h, n, ref::diag_mean(c.h, n), damp, 0, {});
  p.order.resize(n);
  std::iota(p.order.begin(), p.order.end(), size_t(0));
  if (act_order) p.order = ref::act_order_permutation(c.h, n);
  p.perm.assign(p.order.begin(), p.order.end());
  p.h_reg_perm = ref::permute_symmetric(h_reg, n, p.order);
  auto l = p.h_reg_perm;
  std::vector<double> u;
  if (!ref::cholesky_lower(l, n).ok || !ref::upper_cholesky_of_inverse(l, n, u).ok)
    throw std::runtime_error("test problem: H̃ did not factor");
  p.u.assign(u.begin(), u.end());
  p.u_d.assign(p.u.begin(), p.u.end());
  p.t_perm.resize(size_t(m) * n);
  for (uint32_t i = 0; i < m; ++i)
    for (uint32_t q = 0; q < n; ++q) p.t_perm[size_t(i) * n + q] = p.t[size_t(i) * n + p.order[q]];
  p.static_params = ref::static_group_params(p.t_d.data(), m, n, spec, {}, nullptr);
  for (auto& g : p.static_params) g.scale = float(g.scale), g.zero = float(g.zero), g.min = float(g.min);
  p.static_params_dev = params_to_device(p.static_params);
  return p;
}

// True when min-max params of `vals` move under a perturbation of the size fp32 arithmetic leaves
// on an error-updated row (relative `eps`): the stored scale or min sits at an fp16/fp32 rounding
// tie, where the device's fp32 row and the float64 replay may legitimately round apart.
inline bool params_at_rounding_tie(const std::vector<double>& vals, const ref::GridSpec& spec, double eps = 1e-5) {
  const auto base = ref::params_for(vals.data(), vals.size(), spec);
  double amax = 0;
  for (double v : vals) amax = std::max(amax, std::fabs(v));
  const auto moved = [&](double mul, double add) {
    std::vector<double> v = vals;
    for (double& x : v) x = x * mul + add;
    const auto q = ref::params_for(v.data(), v.size(), spec);
    return q.scale != base.scale || q.min != base.min || q.zero != base.zero;
  };
  return moved(1 + eps, 0) || moved(1 - eps, 0) || moved(1, eps * amax) || moved(1, -eps * amax);
}

// Dynamic groups: replays a row's error feedback in float64 from the reference codes up to the
// first group whose device params differ from the reference's. 0: all params equal; 1: that
// difference is at a rounding tie of the updated values (params_at_rounding_tie), after which the
// row's later groups legitimately differ too; 2: a difference off any tie (a real defect).
inline int dynamic_params_difference(const GbsProblem& p, uint32_t row, const ref::SweepResult& want,
                                     const std::vector<ref::GroupParams>& got_params) {
  const size_t n = p.n, ng = want.groups_per_row, g = p.spec.group ? p.spec.group : n;
  std::vector<double> w(n);
  for (size_t q = 0; q < n; ++q) w[q] = p.t_d[row * n + p.order[q]];
  for (size_t q = 0; q < n; ++q) {
    const size_t col = p.order[q], e = row * n + col, gi = row * ng + want.g_idx[col];
    if (q % g == 0) {
      const auto& dp = got_params[gi];
      const auto& rp = want.params[gi];
      if (dp.scale != rp.scale || dp.min != rp.min || dp.zero != rp.zero) {
        const std::vector<double> vals(w.begin() + q, w.begin() + std::min(n, q + g));
        return params_at_rounding_tie(vals, p.spec) ? 1 : 2;  // later groups follow the device's path
      }
    }
    const double err = (w[q] - ref::dequantize_code(want.codes[e], want.params[gi], p.spec)) / p.u_d[q * n + q];
    for (size_t t = q + 1; t < n; ++t) w[t] -= err * p.u_d[q * n + t];
  }
  return 0;
}

// Where a device row first differs from the reference (processing order), the reference's
// error-updated value there is replayed in float64 from the reference codes; true when that value
// sits within `tol` of a rounding boundary (x = k + 0.5), where fp32 and float64 may round apart,
// or (dynamic groups, given the device's params) when an earlier group's params differ at a
// rounding tie of the updated row (dynamic_params_difference == 1).
inline bool first_divergence_is_near_tie(const GbsProblem& p, uint32_t row, const std::vector<int32_t>& codes,
                                         const ref::SweepResult& want,
                                         const std::vector<ref::GroupParams>* got_params = nullptr,
                                         double tol = 1e-4) {
  const size_t n = p.n, ng = want.groups_per_row;
  if (got_params && dynamic_params_difference(p, row, want, *got_params) == 1) return true;
  std::vector<double> w(n);
  for (size_t q = 0; q < n; ++q) w[q] = p.t_d[row * n + p.order[q]];
  for (size_t q = 0; q < n; ++q) {
    const size_t col = p.order[q], e = row * n + col;
    const auto& gp = want.params[row * ng + want.g_idx[col]];
    if (codes[e] != want.codes[e]) {
      if (gp.scale == 0) return false;
      const double x = (w[q] - gp.min) / gp.scale;
      return std::fabs(x - std::floor(x) - 0.5) < tol;
    }
    const double err = (w[q] - ref::dequantize_code(want.codes[e], gp, p.spec)) / p.u_d[q * n + q];
    for (size_t t = q + 1; t < n; ++t) w[t] -= err * p.u_d[q * n + t];
  }
  return true;  // no difference
}

// Relative loss tolerance for identical codes: the loss sums (w − q)², and fp32 rounding of the
// error-updated w is ~1e-7 of |w| while |w − q| is ~2^−b of it, so 8-bit grids get 10× more room.
inline double loss_tolerance(const ref::GridSpec& spec) {
  const bool eight_bit = spec.format == ref::GridFormat::Q8_0 || (spec.format == ref::GridFormat::INT && spec.bits > 5);
  return eight_bit ? 1e-3 : 1e-4;
}

// How a device sweep compares with the reference, row by row.
struct RowComparison {
  size_t rows_identical = 0;       // rows whose codes all equal the reference's
  size_t rows_diverged_off_tie = 0;  // rows whose first difference is not at a near-tie
  size_t rows_params_at_tie = 0;     // identical codes, but dynamic params one rounding apart at a tie
  double max_loss_rel_identical = 0;  // |loss − ref| / ref over identical rows
  double max_loss_rel_other = 0;      // the same over rows that diverged
  double max_deq_err = 0;             // max |ŵ − ref ŵ| over identical rows, relative to max|T|
  bool all_finite = true;
};

// got_params: the device's group params, for dynamic groups (see first_divergence_is_near_tie).
inline RowComparison compare_rows(const GbsProblem& p, const std::vector<int32_t>& codes, const std::vector<float>& deq,
                                  const std::vector<float>& loss, const ref::SweepResult& want,
                                  const std::vector<ref::GroupParams>* got_params = nullptr) {
  RowComparison c;
  double tmax = 0;
  for (float v : p.t) tmax = std::max(tmax, double(std::fabs(v)));
  for (uint32_t i = 0; i < p.m; ++i) {
    bool same = true;
    for (uint32_t j = 0; j < p.n; ++j) {
      const size_t e = size_t(i) * p.n + j;
      same = same && codes[e] == want.codes[e];
      if (!std::isfinite(deq[e])) c.all_finite = false;
    }
    if (!std::isfinite(loss[i])) c.all_finite = false;
    const double rel = std::fabs(double(loss[i]) - want.row_loss[i]) / std::max(want.row_loss[i], 1e-30);
    const int params = got_params && same ? dynamic_params_difference(p, i, want, *got_params) : 0;
    if (params == 1) {
      // Same codes on a scale one fp16 step apart: ŵ and the loss differ by that step, not by a defect.
      ++c.rows_identical, ++c.rows_params_at_tie;
    } else if (same) {
      if (params == 2) ++c.rows_diverged_off_tie;
      ++c.rows_identical;
      c.max_loss_rel_identical = std::max(c.max_loss_rel_identical, rel);
      for (uint32_t j = 0; j < p.n; ++j) {
        const size_t e = size_t(i) * p.n + j;
        c.max_deq_err = std::max(c.max_deq_err, std::fabs(double(deq[e]) - want.dequantized[e]) / tmax);
      }
    } else {
      c.max_loss_rel_other = std::max(c.max_loss_rel_other, rel);
      if (!first_divergence_is_near_tie(p, i, codes, want, got_params)) ++c.rows_diverged_off_tie;
    }
  }
  return c;
}

// fp32 and float64 may round apart at a near-tie, after which a row follows another path: allow
// that in at most a tenth of the rows, plus one (small test problems have few rows), but never in
// every row — except a single-row problem whose row parted at a checked near-tie.
inline bool enough_rows_identical(const RowComparison& c, uint32_t m) {
  const size_t diverged = m - c.rows_identical;
  if (c.rows_identical == 0 && (m > 1 || c.rows_diverged_off_tie > 0)) return false;
  return diverged <= m / 10 + 1;
}

// Rows whose codes all equal the reference's.
inline std::vector<bool> identical_rows(const GbsProblem& p, const std::vector<int32_t>& codes,
                                        const ref::SweepResult& want) {
  std::vector<bool> same(p.m, true);
  for (size_t e = 0; e < codes.size(); ++e)
    if (codes[e] != want.codes[e]) same[e / p.n] = false;
  return same;
}

}  // namespace vkq::test
