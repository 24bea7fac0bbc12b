#include "reference/rms_norm_ref.hpp"

#include <cmath>

#include "vkquant/vkquant.hpp"

namespace vkq::ref {

std::vector<double> rms_norm_ref(const std::vector<double>& x, const std::vector<double>& w, size_t rows, size_t cols,
                                 double eps) {
  if (x.size() != rows * cols || w.size() != cols) throw Error("rms_norm_ref: operand sizes do not match the shape");
  std::vector<double> y(rows * cols);
  for (size_t r = 0; r < rows; ++r) {
    double ss = 0;
    for (size_t c = 0; c < cols; ++c) ss += x[r * cols + c] * x[r * cols + c];
    const double inv = 1.0 / std::sqrt(ss / double(cols) + eps);
    for (size_t c = 0; c < cols; ++c) y[r * cols + c] = x[r * cols + c] * inv * w[c];
  }
  return y;
}

}  // namespace vkq::ref
