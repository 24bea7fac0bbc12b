// ALGORITHMS.md §4 GBS step 4 — the error-feedback arithmetic of one row, shared by the greedy
// sweep (gptq) and the beam search so that beam width 1 reproduces the greedy sweep bit for bit.
// w is the row in processing order, u the n × n upper factor (Uᵀ U = H̃⁻¹), e_block the scaled
// errors e_k = (w_k − q_k)/U_kk of the current block's columns i1 … i2 − 1 (index k − i1).
#pragma once

#include <cstddef>

namespace vkq::ref {

// Loss contribution of one column: (w_j − q_j)² / U_jj².
inline double column_loss(double diff, double ujj) { return diff * diff / (ujj * ujj); }

// In-block update after column p: w[t] −= e · U[p][t] for p < t < block_end.
void feedback_in_block(double* w, size_t p, size_t block_end, double e, const double* u, size_t n);

// After the block: w[t] −= Σ_{k=i1}^{i2−1} e_k U[k][t] for every t ≥ i2 (one GEMM row on the GPU).
void feedback_tail(double* w, size_t i1, size_t i2, const double* e_block, const double* u, size_t n);

// The value at position t ≥ block end once the errors of columns i1 … p − 1 reach it: what the
// row holds there in an unblocked sweep (dynamic groups read it at a group's first column).
double pending_value(const double* w, size_t t, size_t i1, size_t p, const double* e_block, const double* u, size_t n);

}  // namespace vkq::ref
