#include "calibrate/memory_estimate.hpp"

#include <algorithm>

namespace vkq::calibrate {

MemoryNeeds estimate_memory(const MemoryEstimateInputs& in) {
  const auto& c = in.config;
  const uint64_t d = c.dim, q = c.q_dim(), kv = c.kv_dim(), f = c.hidden_dim, V = c.vocab_size, L = c.n_layers;
  const uint64_t chains = in.two_chains ? 2 : 1, C = std::min(in.chunk_tokens, in.calibration_tokens);
  const uint64_t T = in.row_tile_bytes;
  const uint64_t E = c.moe() ? c.n_experts : 1;  // MoE: every expert (and the router) of a block is on the device
  const uint64_t block = 4 * (2 * d * q + 2 * d * kv + E * 3 * d * f + (c.moe() ? E * d : 0));  // one block's fp32 weights
  // A token's activations in flight (MoE: the router's logits and weights, the mixture, an expert's masked input).
  const uint64_t per_token = 4 * (5 * d + 3 * q + 2 * kv + 2 * f + (c.moe() ? 2 * E + d + std::max(d, f) : 0));
  const uint64_t gram_factor = 24 + (in.two_chains ? 16 : 0);                // Gram, H, H̃, factor (+ cross, D)
  // Each group of linears: input width n, output rows m (solved together).
  const uint64_t groups[4][2] = {{d, q + 2 * kv}, {q, d}, {d, 2 * f}, {f, d}};
  uint64_t solve = 0;
  for (const auto& g : groups) {
    // An MoE FFN stage also holds one pass's expert Gram accumulators (≤ 512 MiB, at least one) and the pooled one.
    const bool experts = c.moe() && (&g == &groups[2] || &g == &groups[3]);
    const uint64_t acc = experts ? std::max<uint64_t>(8 * g[0] * g[0], std::min<uint64_t>(E * 8 * g[0] * g[0], 512ull << 20)) +
                                       8 * g[0] * g[0]
                                 : 0;
    solve = std::max(solve, gram_factor * g[0] * g[0] + 8 * std::min(g[0] * g[1] * 4, T) + acc);
  }
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
