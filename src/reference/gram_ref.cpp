#include "reference/gram_ref.hpp"

#include <cmath>

#include "vkquant/vkquant.hpp"

namespace vkq::ref {

GramRef::GramRef(size_t channels) : n(channels), sum_xxt(channels * channels, 0.0), sum_abs(channels, 0.0),
                                    sum_sq(channels, 0.0) {}

void GramRef::accumulate(const float* x, size_t n_tokens) {
  for (size_t t = 0; t < n_tokens; ++t) {
    const float* row = x + t * n;
    for (size_t i = 0; i < n; ++i) {
      const double xi = row[i];
      sum_abs[i] += std::abs(xi);
      sum_sq[i] += xi * xi;
      double* out = &sum_xxt[i * n];
      for (size_t j = 0; j < n; ++j) out[j] += xi * double(row[j]);
    }
  }
  tokens += n_tokens;
}

std::vector<double> GramRef::hessian() const {
  if (!tokens) throw Error("gram reference: no tokens accumulated");
  std::vector<double> h(sum_xxt);
  for (auto& v : h) v *= 2.0 / double(tokens);
  return h;
}

std::vector<double> GramRef::mean_abs() const {
  std::vector<double> v(sum_abs);
  for (auto& x : v) x /= double(tokens);
  return v;
}

std::vector<double> GramRef::mean_sq() const {
  std::vector<double> v(sum_sq);
  for (auto& x : v) x /= double(tokens);
  return v;
}

}  // namespace vkq::ref
