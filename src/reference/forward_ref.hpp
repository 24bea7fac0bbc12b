// float64 reference of the LLaMA-family forward pass (std-only): embedding, per block
// x += Wo·attn(rope(Wq·n), rope(Wk·n), Wv·n) with n = rms_norm(x), x += Wdown·(silu(Wgate·m) ⊙ Wup·m)
// with m = rms_norm(x), then rms_norm and the classifier. Tests compare the Vulkan model with it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace vkq::ref {

struct TransformerRefConfig {
  size_t dim = 0, hidden_dim = 0, n_layers = 0, n_heads = 0, n_kv_heads = 0, head_dim = 0, vocab_size = 0;
  size_t rope_dim = 0;
  double rope_freq_base = 10000.0, rope_scale = 1.0;
  bool rope_neox = false;
  double rms_eps = 1e-5;
};

// Matrices row-major (rows = output features), as GGUF stores them.
struct TransformerRefBlock {
  std::vector<double> attn_norm, wq, wk, wv, wo;          // dim; q_dim x dim; kv_dim x dim (k, v); dim x q_dim
  std::vector<double> ffn_norm, w_gate, w_up, w_down;     // dim; hidden x dim (gate, up); dim x hidden
};

struct TransformerRefWeights {
  std::vector<double> embedding;     // vocab x dim
  std::vector<TransformerRefBlock> blocks;
  std::vector<double> output_norm;   // dim
  std::vector<double> output;        // vocab x dim
};

// The inputs of each group of linears in one block (each tokens x its width).
struct BlockRefCapture {
  std::vector<double> attn_in;    // attn_norm output: input of q, k, v
  std::vector<double> attn_out;   // attention output before Wo
  std::vector<double> ffn_in;     // ffn_norm output: input of gate, up
  std::vector<double> down_in;    // silu(gate) * up: input of down
};

// One block over consecutive sequences of the given lengths (positions restart at 0 in each).
std::vector<double> forward_block_ref(const TransformerRefConfig& c, const TransformerRefBlock& b,
                                      const std::vector<double>& x, const std::vector<uint32_t>& sequence_lengths,
                                      BlockRefCapture* capture = nullptr);

// Logits (tokens x vocab) of one sequence.
std::vector<double> forward_logits_ref(const TransformerRefConfig& c, const TransformerRefWeights& w,
                                       const std::vector<int32_t>& tokens);

// Σ_{t>=1} -log p(tokens[t] | tokens[<t]) of one sequence (tokens.size() - 1 predictions).
double sequence_nll_ref(const TransformerRefConfig& c, const TransformerRefWeights& w,
                        const std::vector<int32_t>& tokens);

}  // namespace vkq::ref
