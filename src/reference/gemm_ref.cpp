#include "reference/gemm_ref.hpp"

#include "vkquant/vkquant.hpp"

namespace vkq::ref {

void gemm_ref(const GemmRefShape& s, const std::vector<double>& a, const std::vector<double>& b,
              std::vector<double>& c) {
  if (a.size() != s.m * s.k || b.size() != s.n * s.k) throw Error("gemm_ref: operand sizes do not match the shape");
  if (s.beta == 0.0) c.assign(s.m * s.n, 0.0);
  if (c.size() != s.m * s.n) throw Error("gemm_ref: C size does not match the shape");
  for (size_t i = 0; i < s.m; ++i)
    for (size_t j = 0; j < s.n; ++j) {
      double acc = 0;
      for (size_t q = 0; q < s.k; ++q) {
        const double av = s.a_kmajor ? a[q * s.m + i] : a[i * s.k + q];
        const double bv = s.b_kmajor ? b[q * s.n + j] : b[j * s.k + q];
        acc += av * bv;
      }
      c[i * s.n + j] = s.alpha * acc + (s.beta != 0.0 ? s.beta * c[i * s.n + j] : 0.0);
    }
}

}  // namespace vkq::ref
