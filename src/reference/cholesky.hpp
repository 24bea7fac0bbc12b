// ALGORITHMS.md §4 GBS step 3 — Cholesky of the regularised Gram H̃, triangular inverse, and
// U = upper Cholesky factor of H̃⁻¹ (GPTQ: cholesky(cholesky_inverse(L), upper=True)), with
// damping escalation. Matrices are n × n row-major float64.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

namespace vkq::ref {

struct CholeskyStatus {
  bool ok = true;
  size_t column = 0;  // first column whose pivot failed, when !ok
  double pivot = 0;   // its pivot value (≤ threshold or non-finite)
};

// In place: reads the lower triangle of a, leaves L (lower, zero upper triangle) with L Lᵀ = a.
// A pivot must be finite and exceed 4·n·ε·a_jj, else the matrix counts as not positive definite.
CholeskyStatus cholesky_lower(std::vector<double>& a, size_t n);

// L⁻¹ of a lower-triangular L with nonzero diagonal (forward substitution).
std::vector<double> invert_lower(const std::vector<double>& l, size_t n);

// (L Lᵀ)⁻¹ = L⁻ᵀ L⁻¹, symmetric.
std::vector<double> cholesky_inverse(const std::vector<double>& l, size_t n);

// U upper-triangular with Uᵀ U = (L Lᵀ)⁻¹; false (u untouched) when H̃⁻¹ does not factor.
CholeskyStatus upper_cholesky_of_inverse(const std::vector<double>& l, size_t n, std::vector<double>& u);

// Solves (L Lᵀ) x = b in place (b has n entries).
void cholesky_solve(const std::vector<double>& l, size_t n, double* b);

struct DampedCholesky {
  size_t n = 0;
  std::vector<double> h_reg;  // H̃ at the damping that succeeded (as `build` returned it)
  std::vector<double> l;      // L Lᵀ = H̃
  std::vector<double> u;      // Uᵀ U = H̃⁻¹
  double delta = 0;           // damping that succeeded
  std::vector<std::string> retries;  // one message per failed attempt
};

// Builds H̃ = build(δ) and factors it; on failure multiplies δ by 10 (δ = 0 retries at 0.001,
// a tenth of the §5 default) and tries again, at most 6 retries. Throws vkq::Error when every
// attempt fails, so no NaN ever leaves.
DampedCholesky factor_with_damping(size_t n, double delta,
                                   const std::function<std::vector<double>(double delta)>& build);

}  // namespace vkq::ref
