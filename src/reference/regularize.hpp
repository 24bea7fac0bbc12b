// ALGORITHMS.md §2 and §4 GBS step 1 — dead columns, saliency, the regularised Gram
// H̃ = H + μ(δI + λ diag(ŝ)) and the shifted target T = W + α W D H̃⁻¹ (float64 reference).
#pragma once

#include <cstddef>
#include <vector>

#include "reference/layer_spec.hpp"

namespace vkq::ref {

// §4.1: columns with H_jj = 0 get H_jj = 1 (as GPTQ, before μ and the regulariser); returns them.
std::vector<size_t> fix_dead_columns(std::vector<double>& gram, size_t n);

// Sets a[:, j] = 0 for every listed column of a rows × cols matrix (T and D of dead columns).
void zero_columns(std::vector<double>& a, size_t rows, size_t cols, const std::vector<size_t>& columns);

// μ = mean(diag H).
double diag_mean(const std::vector<double>& gram, size_t n);

// ŝ = s / mean(s) for the chosen saliency; hdiag reads the (dead-fixed) diagonal of gram,
// act/act2 read channel_mean_abs (mean|x_j|, n entries).
std::vector<double> saliency_weights(Saliency kind, const std::vector<double>& gram, size_t n,
                                     const std::vector<double>& channel_mean_abs);

// H̃ = H + μ(δ I + λ diag(ŝ)); ŝ may be empty when λ = 0.
std::vector<double> regularized_gram(const std::vector<double>& gram, size_t n, double mu, double delta,
                                     double lambda, const std::vector<double>& shat);

// P A Pᵀ: out[p][q] = a[order[p]][order[q]] (processing order of act-order).
std::vector<double> permute_symmetric(const std::vector<double>& a, size_t n, const std::vector<size_t>& order);

// Positions sorted by descending diag (stable: equal diagonals keep column order).
std::vector<size_t> act_order_permutation(const std::vector<double>& gram, size_t n);

// T = W + coef · W D H̃⁻¹ for an m × n W and n × n D. `l_perm` is the lower Cholesky factor of
// H̃ in processing order (P H̃ Pᵀ, `order` as for permute_symmetric). coef = α (fixed) or 1
// (sampled: D already carries the per-sequence α_s).
std::vector<double> shifted_target(const std::vector<double>& w, size_t m, size_t n,
                                   const std::vector<double>& cross_gram, double coef,
                                   const std::vector<double>& l_perm, const std::vector<size_t>& order);

}  // namespace vkq::ref
