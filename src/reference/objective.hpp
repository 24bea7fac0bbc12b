// ALGORITHMS.md §2 and §6 — the quadratic objective (t − q) H (t − q)ᵀ that every solver minimises
// (with H̃) and the layer error tr((T − Q) H (T − Q)ᵀ)/m that runs report (with the plain H).
#pragma once

#include <cstddef>
#include <vector>

namespace vkq::ref {

// (t − q) H (t − q)ᵀ for one row of n entries; H is n × n row-major (read in full).
double row_quadratic_loss(const double* t, const double* q, const double* h, size_t n);

// Per row of the m × n matrices T and Q.
std::vector<double> rows_quadratic_loss(const double* t, const double* q, size_t m, size_t n, const double* h);

// tr((T − Q) H (T − Q)ᵀ) / m.
double layer_loss(const double* t, const double* q, size_t m, size_t n, const double* h);

}  // namespace vkq::ref
