// float64 references of the mixture-of-experts kernels: the router's weights (softmax, top-k,
// renormalised) and one routing column applied to the rows of an activation.
#pragma once

#include <cstddef>
#include <vector>

namespace vkq::ref {

// tokens × experts weights from tokens × experts logits: p = softmax(row), the `used` largest p (ties: the
// lower index) divided by max(their sum, 2^-14) when `normalize`, times `scale` unless it is 0 or 1; 0 for
// every expert not chosen.
std::vector<double> moe_route_ref(const std::vector<double>& logits, size_t tokens, size_t experts, size_t used,
                                  bool normalize, double scale);

// out[t] = (accumulate ? out[t] : 0) + f(w[t·w_stride + w_index]) · x[t], x and out tokens × cols; f = the
// weight, or 1 where it is non-zero and 0 elsewhere (`indicator`).
void row_weights_ref(const std::vector<double>& x, const std::vector<double>& w, size_t tokens, size_t cols,
                     size_t w_stride, size_t w_index, bool accumulate, bool indicator, std::vector<double>& out);

}  // namespace vkq::ref
