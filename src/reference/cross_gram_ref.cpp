#include "reference/cross_gram_ref.hpp"

#include "vkquant/vkquant.hpp"

namespace vkq::ref {

CrossGramRef::CrossGramRef(size_t channels) : n(channels), sum(channels * channels, 0.0) {}

void CrossGramRef::accumulate(const float* x_full, const float* x_quant, size_t n_tokens, double weight) {
  for (size_t t = 0; t < n_tokens; ++t) {
    const float* f = x_full + t * n;
    const float* q = x_quant + t * n;
    for (size_t i = 0; i < n; ++i) {
      const double di = weight * (double(f[i]) - double(q[i]));
      double* out = &sum[i * n];
      for (size_t j = 0; j < n; ++j) out[j] += di * double(q[j]);
    }
  }
  tokens += n_tokens;
}

std::vector<double> CrossGramRef::cross_gram() const {
  if (!tokens) throw Error("cross-gram reference: no tokens accumulated");
  std::vector<double> d(sum);
  for (auto& v : d) v *= 2.0 / double(tokens);
  return d;
}

}  // namespace vkq::ref
