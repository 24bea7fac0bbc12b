// ALGORITHMS.md §3 static group parameters, refined after the sweep: with a row's codes held fixed its
// dequantized values ŵ are linear in the groups' scales (and Q4_1/Q5_1's mins), so the parameters that
// minimise the row's objective (t − ŵ)ᵀ H̃ (t − ŵ) — every group at once, cross-group terms of H̃
// included — are one small least-squares solve. Float64; the device path calls it too.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "reference/layer_spec.hpp"

namespace vkq::ref {

// Per row of an m × n target t (row-major) and its codes (original column order), the refitted
// params (rows × groups_per_row, groups contiguous in column order), stored as the format stores them.
// A row keeps `current` where its system is singular or a refitted value is not finite or does not
// fit the stored type; a group whose codes all decode to 0 keeps its scale (it does not enter ŵ), and a
// refitted scale that flips sign keeps the current one. h_reg: H̃, n × n, original order.
std::vector<GroupParams> refit_rows_from_codes(const double* t, const int32_t* codes, size_t m, size_t n,
                                               const double* h_reg, const GridSpec& spec,
                                               const std::vector<GroupParams>& current);

// The pieces of one row's normal equations AᵀH̃A x = AᵀH̃t by group pair (a, b), row-major ng × ng, with
// u the row's codes decoded at scale 1 and min 0: ss = Σ_{j∈a,l∈b} u_j H̃_jl u_l, sm = Σ u_j H̃_jl,
// ms = Σ H̃_jl u_l, mm = Σ H̃_jl; bs_a = Σ_{j∈a} u_j (H̃t)_j, bm_a = Σ_{j∈a} (H̃t)_j. The min terms are
// empty for formats without a min. The device assembles the same pieces (quant/group_refit.hpp).
struct RowRefitTerms {
  size_t groups = 0;
  std::vector<double> ss, sm, ms, mm, bs, bm;
};

std::vector<double> unit_decoded_codes(const int32_t* codes, size_t n, const GridSpec& spec, const GroupParams* cur);
RowRefitTerms row_refit_terms(const double* t, const double* u, size_t n, const double* h_reg, const GridSpec& spec);
// Solves one row's system (groups whose u is all zero keep their scale); false where it is singular or a
// value is not finite (out then holds nothing to use). cur/out: the row's groups_per_row params.
bool solve_row_refit(const RowRefitTerms& terms, const double* u, size_t n, const GridSpec& spec,
                     const GroupParams* cur, GroupParams* out);

// After a refit's sweep: every row whose loss dropped takes that sweep's codes, params, Q and row loss
// (rows are independent given their params); adopted(i) runs for each. Shared by the reference and the
// device path (Result: LayerQuantResult / LayerQuantOutput; Sweep: their sweep results). Returns the count.
template <class Result, class Sweep, class OnAdopt>
size_t adopt_better_rows(Result& res, const Sweep& s, OnAdopt adopted) {
  const size_t m = res.rows, n = res.cols, gpr = res.groups_per_row;
  size_t improved = 0;
  for (size_t i = 0; i < m; ++i) {
    if (!(s.row_loss[i] < res.row_loss[i])) continue;
    ++improved;
    res.row_loss[i] = s.row_loss[i];
    std::copy_n(s.codes.begin() + i * n, n, res.codes.begin() + i * n);
    std::copy_n(s.dequantized.begin() + i * n, n, res.dequantized.begin() + i * n);
    std::copy_n(s.params.begin() + i * gpr, gpr, res.params.begin() + i * gpr);
    adopted(i);
  }
  return improved;
}

}  // namespace vkq::ref
