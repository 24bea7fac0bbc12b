// ALGORITHMS.md §4 GBS — successive rounding with error feedback (GPTQ on (T, H̃)), blocked,
// natural or act-order, static or dynamic groups; float64 reference.
//
// Choices where the spec defers to GPTQ:
// - Dynamic groups take their params from the fully error-updated row at the group's first
//   processed column (pending errors of the current block included). GPTQ reads its block-start
//   copy instead, which makes its params depend on the block size; ours do not, so blocked and
//   unblocked sweeps agree. Group k covers processing positions [k·g, (k+1)·g); g_idx maps each
//   original column there. With clip search on, the group's candidates are scored with H̃ over
//   those positions.
// - Static groups: params per contiguous group of ORIGINAL columns, computed from T before any
//   rounding (rtn.hpp static_group_params); g_idx[j] = j / g.
// - Per-row loss Σ_j (w_j − q_j)²/U_jj² (no factor 1/2), which equals (t − q) H̃ (t − q)ᵀ.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "reference/layer_spec.hpp"

namespace vkq::ref {

struct SweepProblem {
  const double* target = nullptr;      // T, rows × cols, original column order
  size_t rows = 0, cols = 0;
  const double* u = nullptr;           // cols × cols, Uᵀ U = H̃⁻¹, in processing order
  const double* h_reg_perm = nullptr;  // H̃ in processing order; only dynamic groups with clip search read it
  std::vector<size_t> order;           // order[p] = original column processed at position p
};

struct SweepOptions {
  GridSpec grid;
  bool static_groups = true;
  size_t block = 128;  // B ≥ 1; B ≥ cols is the unblocked sweep
  ClipOptions clip;    // dynamic groups only (static params arrive computed)
};

struct SweepResult {
  size_t rows = 0, cols = 0, groups_per_row = 0;
  std::vector<int32_t> codes;        // rows × cols, original column order
  std::vector<GroupParams> params;   // rows × groups_per_row
  std::vector<uint32_t> g_idx;       // cols
  std::vector<double> dequantized;   // rows × cols, original column order
  std::vector<double> row_loss;      // Σ_j (w_j − q_j)²/U_jj²
};

// Throws vkq::Error on inconsistent shapes, a non-permutation order, B = 0, or missing params.
void validate_sweep(const SweepProblem& pb, const SweepOptions& opt, const std::vector<GroupParams>& static_params);

// static_params: rows × groups_per_row from static_group_params (static groups; ignored otherwise).
SweepResult gptq_quantize(const SweepProblem& pb, const SweepOptions& opt, const std::vector<GroupParams>& static_params);

}  // namespace vkq::ref
