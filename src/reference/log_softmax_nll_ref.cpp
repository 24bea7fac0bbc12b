#include "reference/log_softmax_nll_ref.hpp"

#include <algorithm>
#include <cmath>

#include "vkquant/vkquant.hpp"

namespace vkq::ref {

std::vector<double> log_softmax_nll_ref(const std::vector<double>& logits, const std::vector<int32_t>& targets,
                                        size_t vocab) {
  if (vocab == 0 || logits.size() != targets.size() * vocab)
    throw Error("log_softmax_nll_ref: operand sizes do not match the shape");
  std::vector<double> nll(targets.size());
  for (size_t t = 0; t < targets.size(); ++t) {
    if (targets[t] < 0 || size_t(targets[t]) >= vocab) throw Error("log_softmax_nll_ref: target outside the vocabulary");
    const double* x = logits.data() + t * vocab;
    const double mx = *std::max_element(x, x + vocab);
    double sum = 0;
    for (size_t v = 0; v < vocab; ++v) sum += std::exp(x[v] - mx);
    nll[t] = mx + std::log(sum) - x[targets[t]];
  }
  return nll;
}

}  // namespace vkq::ref
