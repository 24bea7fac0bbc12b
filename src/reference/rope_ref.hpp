// float64 reference of rope: pairs (2i, 2i+1) (normal) or (i, i + rot_dim/2) (NeoX) of each head
// rotated by θ_i = (pos / scale) · base^(-2i/rot_dim) / factor_i; dims >= rot_dim unchanged.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace vkq::ref {

struct RopeRefParams {
  size_t heads = 0, head_dim = 0, rot_dim = 0;
  double freq_base = 10000.0, scale = 1.0;
  bool neox = false;
  std::vector<double> freq_factors;  // Llama 3 rope_freqs: θ_i / freq_factors[i]; empty = all 1
};

// x: tokens x (heads * head_dim) packed, rotated in place; positions: one per token.
void rope_ref(std::vector<double>& x, const std::vector<int32_t>& positions, const RopeRefParams& p);

}  // namespace vkq::ref
