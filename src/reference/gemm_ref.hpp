// float64 reference of the gemm kernel: C = alpha * op(A) * op(B)^T + beta * C.
#pragma once

#include <cstddef>
#include <vector>

namespace vkq::ref {

struct GemmRefShape {
  size_t m = 0, n = 0, k = 0;
  bool a_kmajor = false;  // A stored k x m instead of m x k
  bool b_kmajor = false;  // B stored k x n instead of n x k
  double alpha = 1.0, beta = 0.0;
};

// A, B as stored (row-major, packed); C is m x n (read only when beta != 0).
void gemm_ref(const GemmRefShape& s, const std::vector<double>& a, const std::vector<double>& b,
              std::vector<double>& c);

}  // namespace vkq::ref
