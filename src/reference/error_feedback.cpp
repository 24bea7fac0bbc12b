// ALGORITHMS.md §4 GBS step 4 — in-block and tail error-feedback updates of one row.
#include "reference/error_feedback.hpp"

namespace vkq::ref {

void feedback_in_block(double* w, size_t p, size_t block_end, double e, const double* u, size_t n) {
  const double* up = u + p * n;
  for (size_t t = p + 1; t < block_end; ++t) w[t] -= e * up[t];
}

void feedback_tail(double* w, size_t i1, size_t i2, const double* e_block, const double* u, size_t n) {
  for (size_t t = i2; t < n; ++t) {
    double s = 0;
    for (size_t k = i1; k < i2; ++k) s += e_block[k - i1] * u[k * n + t];
    w[t] -= s;
  }
}

double pending_value(const double* w, size_t t, size_t i1, size_t p, const double* e_block, const double* u, size_t n) {
  double s = 0;
  for (size_t k = i1; k < p; ++k) s += e_block[k - i1] * u[k * n + t];
  return w[t] - s;
}

}  // namespace vkq::ref
