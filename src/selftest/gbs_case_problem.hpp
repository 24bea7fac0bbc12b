// A GBS sweep problem for the gptq_sweep and beam selftest cases: random SPD H̃ = X Xᵀ/N + 0.1 μ I
// (well conditioned, so device codes should equal the reference's), U from the float64 reference
// Cholesky narrowed to fp32, T ~ N(0, 0.05²) in fp32; the reference gets the same fp32 values.
#pragma once

#include <cmath>
#include <cstdint>
#include <numeric>
#include <random>
#include <vector>

#include "reference/cholesky.hpp"
#include "reference/gptq.hpp"
#include "reference/regularize.hpp"
#include "reference/rtn.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::selftest {

struct GbsCaseProblem {
  uint32_t m = 0, n = 0;
  std::vector<size_t> order;
  std::vector<uint32_t> perm;
  std::vector<float> t_perm, u, params_dev;  // device inputs (processing order; vec4 params)
  std::vector<double> t_d, u_d;              // the same values widened for the reference
  std::vector<ref::GroupParams> params;      // static min-max params, narrowed to fp32

  ref::SweepProblem problem() const {
    ref::SweepProblem pb;
    pb.target = t_d.data(), pb.rows = m, pb.cols = n, pb.u = u_d.data(), pb.order = order;
    return pb;
  }
};

inline GbsCaseProblem make_gbs_case_problem(std::mt19937_64& rng, uint32_t m, uint32_t n, const ref::GridSpec& spec,
                                            bool act_order) {
  GbsCaseProblem p;
  p.m = m, p.n = n;
  std::normal_distribution<double> nd(0.0, 1.0);
  const size_t tokens = 2 * size_t(n) + 8;
  std::vector<double> x(size_t(n) * tokens), h(size_t(n) * n);
  for (auto& v : x) v = nd(rng);
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j <= i; ++j) {
      double s = 0;
      for (size_t t = 0; t < tokens; ++t) s += x[i * tokens + t] * x[j * tokens + t];
      h[i * n + j] = h[j * n + i] = 2.0 * s / double(tokens);
    }
  const auto h_reg = ref::regularized_gram(h, n, ref::diag_mean(h, n), 0.1, 0, {});
  p.order.resize(n);
  std::iota(p.order.begin(), p.order.end(), size_t(0));
  if (act_order) p.order = ref::act_order_permutation(h, n);
  p.perm.assign(p.order.begin(), p.order.end());
  auto l = ref::permute_symmetric(h_reg, n, p.order);
  std::vector<double> u;
  if (!ref::cholesky_lower(l, n).ok || !ref::upper_cholesky_of_inverse(l, n, u).ok)
    throw Error("selftest gbs problem: H̃ did not factor");
  p.u.assign(u.begin(), u.end());
  p.u_d.assign(p.u.begin(), p.u.end());
  std::vector<float> t(size_t(m) * n);
  for (auto& v : t) v = float(0.05 * nd(rng));
  p.t_d.assign(t.begin(), t.end());
  p.t_perm.resize(t.size());
  for (size_t i = 0; i < m; ++i)
    for (size_t q = 0; q < n; ++q) p.t_perm[i * n + q] = t[i * n + p.order[q]];
  p.params = ref::static_group_params(p.t_d.data(), m, n, spec, {}, nullptr);
  for (auto& g : p.params) {
    g.scale = float(g.scale), g.zero = float(g.zero), g.min = float(g.min);
    p.params_dev.insert(p.params_dev.end(), {float(g.scale), float(g.zero), float(g.min), 0.0f});
  }
  return p;
}

// Rows whose codes all equal the reference's, and the largest relative row-loss error among them.
struct GbsCaseComparison {
  size_t rows_identical = 0;
  double max_loss_rel = 0;
  bool finite = true;
};

inline GbsCaseComparison compare_gbs_case(const GbsCaseProblem& p, const std::vector<int32_t>& codes,
                                          const std::vector<float>& deq, const std::vector<float>& loss,
                                          const ref::SweepResult& want) {
  GbsCaseComparison c;
  for (size_t i = 0; i < p.m; ++i) {
    bool same = true;
    for (size_t j = 0; j < p.n; ++j) {
      same = same && codes[i * p.n + j] == want.codes[i * p.n + j];
      c.finite = c.finite && std::isfinite(deq[i * p.n + j]);
    }
    c.finite = c.finite && std::isfinite(loss[i]);
    if (!same) continue;
    ++c.rows_identical;
    c.max_loss_rel = std::max(c.max_loss_rel, std::fabs(loss[i] - want.row_loss[i]) / std::max(want.row_loss[i], 1e-30));
  }
  if (!c.finite) c.max_loss_rel = INFINITY;
  return c;
}

}  // namespace vkq::selftest
