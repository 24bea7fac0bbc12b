#include "reference/row_refit.hpp"

#include <algorithm>
#include <cmath>

#include "reference/cholesky.hpp"
#include "reference/grid.hpp"

namespace vkq::ref {

namespace {

bool has_min(const GridSpec& spec) { return spec.format == GridFormat::Q4_1 || spec.format == GridFormat::Q5_1; }

}  // namespace

std::vector<double> unit_decoded_codes(const int32_t* codes, size_t n, const GridSpec& spec, const GroupParams* cur) {
  const size_t g = group_size(spec, n);
  std::vector<double> u(n);
  for (size_t j = 0; j < n; ++j) {
    GroupParams unit = cur[j / g];
    unit.scale = 1, unit.min = 0;
    u[j] = dequantize_code(codes[j], unit, spec);
  }
  return u;
}

// Column j of the design matrix A has at most two nonzeros (u_j in its group's scale unknown, 1 in its min
// unknown), so row j of H̃ contributes to the (group of j, k) entries for every group k: one pass over H̃.
RowRefitTerms row_refit_terms(const double* t, const double* u, size_t n, const double* h, const GridSpec& spec) {
  const size_t g = group_size(spec, n), ng = groups_per_row(spec, n);
  const bool offset = has_min(spec);
  RowRefitTerms r;
  r.groups = ng;
  r.ss.assign(ng * ng, 0.0), r.bs.assign(ng, 0.0);
  if (offset) r.sm.assign(ng * ng, 0.0), r.ms.assign(ng * ng, 0.0), r.mm.assign(ng * ng, 0.0), r.bm.assign(ng, 0.0);
  for (size_t j = 0; j < n; ++j) {
    const double* hj = h + j * n;
    const size_t kj = j / g;
    double ht = 0;
    for (size_t k = 0; k < ng; ++k) {
      double su = 0, s1 = 0;
      const size_t end = std::min(n, (k + 1) * g);
      for (size_t l = k * g; l < end; ++l) su += hj[l] * u[l], ht += hj[l] * t[l];
      r.ss[kj * ng + k] += u[j] * su;
      if (!offset) continue;
      for (size_t l = k * g; l < end; ++l) s1 += hj[l];
      r.sm[kj * ng + k] += u[j] * s1;
      r.ms[kj * ng + k] += su;
      r.mm[kj * ng + k] += s1;
    }
    r.bs[kj] += u[j] * ht;
    if (offset) r.bm[kj] += ht;
  }
  return r;
}

bool solve_row_refit(const RowRefitTerms& terms, const double* u, size_t n, const GridSpec& spec,
                     const GroupParams* cur, GroupParams* out) {
  const size_t g = group_size(spec, n), ng = terms.groups;
  const bool offset = has_min(spec);
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
  std::vector<double> ata(p * p, 0.0), atb(p, 0.0);
  for (size_t a = 0; a < ng; ++a) {
    const long sa = scale_var[a], ma = min_var[a];
    for (size_t b = 0; b < ng; ++b) {
      const long sb = scale_var[b], mb = min_var[b];
      const size_t ab = a * ng + b;
      if (sa >= 0 && sb >= 0) ata[size_t(sa) * p + size_t(sb)] = terms.ss[ab];
      if (sa >= 0 && mb >= 0) ata[size_t(sa) * p + size_t(mb)] = terms.sm[ab];
      if (ma >= 0 && sb >= 0) ata[size_t(ma) * p + size_t(sb)] = terms.ms[ab];
      if (ma >= 0 && mb >= 0) ata[size_t(ma) * p + size_t(mb)] = terms.mm[ab];
    }
    if (sa >= 0) atb[size_t(sa)] = terms.bs[a];
    if (ma >= 0) atb[size_t(ma)] = terms.bm[a];
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

std::vector<GroupParams> refit_rows_from_codes(const double* t, const int32_t* codes, size_t m, size_t n,
                                               const double* h_reg, const GridSpec& spec,
                                               const std::vector<GroupParams>& current) {
  validate_grid(spec, n);
  const size_t ng = groups_per_row(spec, n);
  std::vector<GroupParams> out = current;
  std::vector<GroupParams> row(ng);
  for (size_t i = 0; i < m; ++i) {
    const GroupParams* cur = current.data() + i * ng;
    const std::vector<double> u = unit_decoded_codes(codes + i * n, n, spec, cur);
    const RowRefitTerms terms = row_refit_terms(t + i * n, u.data(), n, h_reg, spec);
    if (solve_row_refit(terms, u.data(), n, spec, cur, row.data())) std::copy(row.begin(), row.end(), out.begin() + i * ng);
  }
  return out;
}

}  // namespace vkq::ref
