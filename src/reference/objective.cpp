// ALGORITHMS.md §2/§6 — quadratic objective per row and the per-layer error.
#include "reference/objective.hpp"

namespace vkq::ref {

double row_quadratic_loss(const double* t, const double* q, const double* h, size_t n) {
  std::vector<double> d(n);
  for (size_t j = 0; j < n; ++j) d[j] = t[j] - q[j];
  double s = 0;
  for (size_t i = 0; i < n; ++i) {
    if (d[i] == 0) continue;
    double hi = 0;
    for (size_t j = 0; j < n; ++j) hi += h[i * n + j] * d[j];
    s += d[i] * hi;
  }
  return s;
}

std::vector<double> rows_quadratic_loss(const double* t, const double* q, size_t m, size_t n, const double* h) {
  std::vector<double> out(m);
  for (size_t i = 0; i < m; ++i) out[i] = row_quadratic_loss(t + i * n, q + i * n, h, n);
  return out;
}

double layer_loss(const double* t, const double* q, size_t m, size_t n, const double* h) {
  if (m == 0) return 0;
  double s = 0;
  for (double v : rows_quadratic_loss(t, q, m, n, h)) s += v;
  return s / double(m);
}

}  // namespace vkq::ref
