#include "reference/row_refit.hpp"

#include <algorithm>
#include <cmath>

#include "reference/cholesky.hpp"
#include "reference/grid.hpp"

namespace vkq::ref {

namespace {

bool has_min(const GridSpec& spec) { return spec.format == GridFormat::Q4_1 || spec.format == GridFormat::Q5_1; }

// One row: the unknowns are each live group's scale (and min); column c of the design matrix A is the
// group's unit-scale decoded codes (or its indicator), so AᵀH̃A and AᵀH̃t need one pass over H̃.
bool refit_row(const double* t, const int32_t* codes, size_t n, const double* h, const GridSpec& spec,
               size_t g, size_t ng, const GroupParams* cur, GroupParams* out) {
  const bool offset = has_min(spec);
  std::vector<double> u(n);  // decoded codes at scale 1, min 0
  for (size_t j = 0; j < n; ++j) {
    GroupParams unit = cur[j / g];
    unit.scale = 1, unit.min = 0;
    u[j] = dequantize_code(codes[j], unit, spec);
  }
  // Unknown index per (group, kind): kind 0 = scale, 1 = min; −1 when the scale column is all zero.
  std::vector<long> scale_var(ng, -1), min_var(ng, -1);
  size_t p = 0;
  for (size_t k = 0; k < ng; ++k) {
    bool live = false;
    for (size_t j = k * g; j < std::min(n, (k + 1) * g); ++j) live |= u[j] != 0;
    if (live) scale_var[k] = long(p++);
    if (offset) min_var[k] = long(p++);
  }
  if (p == 0) return false;
  // Column j of A has at most two nonzeros (u_j in its group's scale unknown, 1 in its min unknown), so
  // row j of H̃ contributes a_j (Σ_{l∈k} H̃_jl u_l, Σ_{l∈k} H̃_jl) for every group k: one pass over H̃.
  std::vector<double> ata(p * p, 0.0), atb(p, 0.0);
  std::vector<double> hu(ng), h1(ng);
  for (size_t j = 0; j < n; ++j) {
    const double* hj = h + j * n;
    double ht = 0;
    for (size_t k = 0; k < ng; ++k) {
      double su = 0, s1 = 0;
      const size_t end = std::min(n, (k + 1) * g);
      for (size_t l = k * g; l < end; ++l) su += hj[l] * u[l], ht += hj[l] * t[l];
      if (offset)
        for (size_t l = k * g; l < end; ++l) s1 += hj[l];
      hu[k] = su, h1[k] = s1;
    }
    const long sj = scale_var[j / g], mj = min_var[j / g];
    for (size_t k = 0; k < ng; ++k) {
      const long sk = scale_var[k], mk = min_var[k];
      if (sj >= 0 && sk >= 0) ata[size_t(sj) * p + size_t(sk)] += u[j] * hu[k];
      if (sj >= 0 && mk >= 0) ata[size_t(sj) * p + size_t(mk)] += u[j] * h1[k];
      if (mj >= 0 && sk >= 0) ata[size_t(mj) * p + size_t(sk)] += hu[k];
      if (mj >= 0 && mk >= 0) ata[size_t(mj) * p + size_t(mk)] += h1[k];
    }
    if (sj >= 0) atb[size_t(sj)] += u[j] * ht;
    if (mj >= 0) atb[size_t(mj)] += ht;
  }
  std::vector<double> l = ata;
  if (!cholesky_lower(l, p).ok) return false;
  cholesky_solve(l, p, atb.data());
  for (size_t k = 0; k < ng; ++k) {
    GroupParams r = cur[k];
    if (scale_var[k] >= 0) {
      const double s = stored_value(spec, atb[size_t(scale_var[k])]);
      if (!std::isfinite(s)) return false;
      if (s * cur[k].scale > 0) r.scale = s;  // a flipped sign would reorder the codes: keep the current scale
    }
    if (min_var[k] >= 0) {
      r.min = stored_value(spec, atb[size_t(min_var[k])]);
      if (!std::isfinite(r.min)) return false;
    }
    out[k] = r;
  }
  return true;
}

}  // namespace

std::vector<GroupParams> refit_rows_from_codes(const double* t, const int32_t* codes, size_t m, size_t n,
                                               const double* h_reg, const GridSpec& spec,
                                               const std::vector<GroupParams>& current) {
  validate_grid(spec, n);
  const size_t g = group_size(spec, n), ng = groups_per_row(spec, n);
  std::vector<GroupParams> out = current;
  std::vector<GroupParams> row(ng);
  for (size_t i = 0; i < m; ++i)
    if (refit_row(t + i * n, codes + i * n, n, h_reg, spec, g, ng, current.data() + i * ng, row.data()))
      std::copy(row.begin(), row.end(), out.begin() + i * ng);
  return out;
}

}  // namespace vkq::ref
