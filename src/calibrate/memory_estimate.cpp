#include "calibrate/memory_estimate.hpp"

#include <algorithm>

namespace vkq::calibrate {

MemoryNeeds estimate_memory(const MemoryEstimateInputs& in) {
  const auto& c = in.config;
  const uint64_t d = c.dim, q = c.q_dim(), kv = c.kv_dim(), f = c.hidden_dim, V = c.vocab_size, L = c.n_layers;
  const uint64_t chains = in.two_chains ? 2 : 1, C = std::min(in.chunk_tokens, in.calibration_tokens);
  const uint64_t T = in.row_tile_bytes;
  const uint64_t block = 4 * (2 * d * q + 2 * d * kv + 3 * d * f);           // one block's fp32 weights
  const uint64_t per_token = 4 * (5 * d + 3 * q + 2 * kv + 2 * f);          // a token's activations in flight
  const uint64_t gram_factor = 24 + (in.two_chains ? 16 : 0);                // Gram, H, H̃, factor (+ cross, D)
  // Each group of linears: input width n, output rows m (solved together).
  const uint64_t groups[4][2] = {{d, q + 2 * kv}, {q, d}, {d, 2 * f}, {f, d}};
  uint64_t solve = 0;
  for (const auto& g : groups) solve = std::max(solve, gram_factor * g[0] * g[0] + 8 * std::min(g[0] * g[1] * 4, T));
  MemoryNeeds m;
  m.embedding_on_host = in.embedding_on_host;
  m.row_tile_bytes = T;
  m.device_stage = chains * block + chains * C * per_token + solve + (in.evaluate ? (L - 1) * block : 0);
  m.device_embedding = (in.embedding_on_host ? 0 : 4 * V * d) + chains * C * 4 * d;
  m.device_head = (in.head_solved ? gram_factor * d * d + 8 * std::min(4 * V * d, T) + chains * C * 4 * d : 0) +
                  (in.evaluate ? L * block + 4 * V * d : 0);
  // A row tile's weights, codes and dequantized values (4 bytes each) and its params (16 bytes per 32).
  const uint64_t rounding = std::min(4 * in.rounded_elements, T) / 8 * 25;
  m.device_peak = std::max({m.device_stage, m.device_embedding, m.device_head, rounding});
  const uint64_t N = in.calibration_tokens;
  m.host_activations = chains * N * (in.f16_activations ? 2 * d : 4 * d + 4 * q);  // + saved attention outputs (f32)
  // Rows come straight from the mapped file; only a rounded table (the evaluation's, or with
  // --calib-rounded-embedding) is held whole.
  m.host_embedding = in.embedding_on_host && in.embedding_changed ? 4 * V * d : 0;
  m.host_output = in.output_bytes;
  // The largest tensor's fp32 weights, dequantized result and int32 codes while it is solved.
  m.host_peak = m.host_activations + m.host_embedding + m.host_output + 12 * in.largest_tensor_elements;
  return m;
}

}  // namespace vkq::calibrate
