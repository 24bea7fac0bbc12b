// float64 reference of log_softmax_nll: nll[t] = logsumexp(logits[t]) - logits[t][target[t]].
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace vkq::ref {

// logits: tokens x vocab packed; targets: tokens ids in [0, vocab).
std::vector<double> log_softmax_nll_ref(const std::vector<double>& logits, const std::vector<int32_t>& targets,
                                        size_t vocab);

}  // namespace vkq::ref
