// float64 reference of gram_accumulate + channel_stats (ALGORITHMS.md §1).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace vkq::ref {

struct GramRef {
  size_t n = 0;
  uint64_t tokens = 0;
  std::vector<double> sum_xxt;  // n x n, sum over tokens of x x^T
  std::vector<double> sum_abs;  // n
  std::vector<double> sum_sq;   // n

  explicit GramRef(size_t channels);
  // Adds `tokens` rows of width n (row-major).
  void accumulate(const float* x, size_t n_tokens);
  std::vector<double> hessian() const;   // (2/N) sum_xxt
  std::vector<double> mean_abs() const;  // sum_abs / N
  std::vector<double> mean_sq() const;   // sum_sq / N
};

}  // namespace vkq::ref
