// float64 reference of cross_gram_accumulate (ALGORITHMS.md §1–§2): D = (2/N) Σ_chunks w ΔXᵀ X_q
// with token-major X (tokens × n), i.e. D[i][j] = (2/N) Σ_t w_t ΔX[t][i] X_q[t][j].
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace vkq::ref {

struct CrossGramRef {
  size_t n = 0;
  uint64_t tokens = 0;
  std::vector<double> sum;  // n x n, Σ_t w_t ΔX[t]ᵀ X_q[t]

  explicit CrossGramRef(size_t channels);
  // Adds `n_tokens` rows of width n of X_f and X_q (row-major), weighted by `weight`.
  void accumulate(const float* x_full, const float* x_quant, size_t n_tokens, double weight = 1.0);
  std::vector<double> cross_gram() const;  // (2/N) sum
};

}  // namespace vkq::ref
