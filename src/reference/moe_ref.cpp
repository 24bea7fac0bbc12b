#include "reference/moe_ref.hpp"

#include <algorithm>
#include <cmath>

namespace vkq::ref {

std::vector<double> moe_route_ref(const std::vector<double>& logits, size_t tokens, size_t experts, size_t used,
                                  bool normalize, double scale) {
  std::vector<double> route(tokens * experts, 0.0);
  std::vector<double> p(experts);
  std::vector<bool> chosen(experts);
  for (size_t t = 0; t < tokens; ++t) {
    const double* l = logits.data() + t * experts;
    const double mx = *std::max_element(l, l + experts);
    double sum = 0;
    for (size_t e = 0; e < experts; ++e) sum += p[e] = std::exp(l[e] - mx);
    for (size_t e = 0; e < experts; ++e) p[e] /= sum;
    std::fill(chosen.begin(), chosen.end(), false);
    double picked = 0;
    for (size_t k = 0; k < used; ++k) {
      size_t best = experts;
      for (size_t e = 0; e < experts; ++e)
        if (!chosen[e] && (best == experts || p[e] > p[best])) best = e;
      chosen[best] = true;
      picked += p[best];
    }
    double mul = normalize ? 1.0 / std::max(picked, 6.103515625e-5) : 1.0;
    if (scale != 0.0 && scale != 1.0) mul *= scale;
    for (size_t e = 0; e < experts; ++e)
      if (chosen[e]) route[t * experts + e] = p[e] * mul;
  }
  return route;
}

void row_weights_ref(const std::vector<double>& x, const std::vector<double>& w, size_t tokens, size_t cols,
                     size_t w_stride, size_t w_index, bool accumulate, bool indicator, std::vector<double>& out) {
  out.resize(tokens * cols);
  for (size_t t = 0; t < tokens; ++t) {
    const double wt = w[t * w_stride + w_index];
    const double f = indicator ? (wt != 0.0 ? 1.0 : 0.0) : wt;
    for (size_t j = 0; j < cols; ++j) {
      const double v = f == 0.0 ? 0.0 : f * x[t * cols + j];
      out[t * cols + j] = accumulate ? out[t * cols + j] + v : v;
    }
  }
}

}  // namespace vkq::ref
