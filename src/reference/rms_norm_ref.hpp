// float64 reference of rms_norm: y[r][c] = x[r][c] / sqrt(mean_c x[r][c]^2 + eps) * w[c].
#pragma once

#include <cstddef>
#include <vector>

namespace vkq::ref {

// x: rows x cols packed, w: cols; returns rows x cols.
std::vector<double> rms_norm_ref(const std::vector<double>& x, const std::vector<double>& w, size_t rows, size_t cols,
                                 double eps);

}  // namespace vkq::ref
