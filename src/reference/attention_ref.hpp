// float64 reference of attention: out[t][h] = Σ_j softmax_j(q_t,h · k_j,g / sqrt(head_dim)) v_j,g
// over j ∈ [begin_t, end_t), g = h / (heads / kv_heads) (grouped-query attention).
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace vkq::ref {

struct AttentionRefShape {
  size_t heads = 0, kv_heads = 0, head_dim = 0;
};

// q: tokens x (heads*head_dim), k and v: kv_rows x (kv_heads*head_dim), ranges: one [begin, end)
// per query token. Returns tokens x (heads*head_dim); an empty range gives zeros.
std::vector<double> attention_ref(const std::vector<double>& q, const std::vector<double>& k,
                                  const std::vector<double>& v,
                                  const std::vector<std::pair<uint32_t, uint32_t>>& ranges,
                                  const AttentionRefShape& s);

}  // namespace vkq::ref
