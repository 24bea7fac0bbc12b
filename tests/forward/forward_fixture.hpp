// Shared by the forward tests: stories260K paths, the float64 reference weights built from a
// ModelWeights, and the perplexity protocol of shared/data/README.md (blank-line blocks).
#pragma once

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "model/model_weights.hpp"
#include "reference/forward_ref.hpp"
#include "support/test_seed.hpp"

namespace vkq::test {

inline std::string stories_gguf() { return data_path("tinystories-260k/stories260K.gguf"); }
inline std::string stories_bin() { return data_path("tinystories-260k/stories260K.bin"); }
inline std::string stories_tok() { return data_path("tinystories-260k/tok512.bin"); }

inline std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::vector<double> to_double(const std::vector<float>& v) { return {v.begin(), v.end()}; }

inline ref::TransformerRefConfig ref_config(const model::LlamaConfig& c) {
  ref::TransformerRefConfig r;
  r.dim = c.dim, r.hidden_dim = c.hidden_dim, r.n_layers = c.n_layers, r.n_heads = c.n_heads;
  r.n_kv_heads = c.n_kv_heads, r.head_dim = c.head_dim, r.vocab_size = c.vocab_size, r.rope_dim = c.rope_dim;
  r.rope_freq_base = c.rope_freq_base, r.rope_scale = c.rope_scale;
  r.rope_neox = c.rope_layout == model::RopeLayout::NeoX, r.rms_eps = c.rms_eps;
  return r;
}

inline ref::TransformerRefBlock ref_block(const model::ModelWeights& w, uint32_t b) {
  ref::TransformerRefBlock r;
  r.attn_norm = to_double(w.attn_norm(b));
  r.ffn_norm = to_double(w.ffn_norm(b));
  r.wq = to_double(w.linear(b, "attn_q").data);
  r.wk = to_double(w.linear(b, "attn_k").data);
  r.wv = to_double(w.linear(b, "attn_v").data);
  r.wo = to_double(w.linear(b, "attn_output").data);
  r.w_gate = to_double(w.linear(b, "ffn_gate").data);
  r.w_up = to_double(w.linear(b, "ffn_up").data);
  r.w_down = to_double(w.linear(b, "ffn_down").data);
  return r;
}

inline ref::TransformerRefWeights ref_weights(const model::ModelWeights& w) {
  ref::TransformerRefWeights r;
  r.embedding = to_double(w.token_embedding().data);
  r.output = to_double(w.output().data);
  r.output_norm = to_double(w.output_norm());
  for (uint32_t b = 0; b < w.config().n_layers; ++b) r.blocks.push_back(ref_block(w, b));
  return r;
}

// README protocol: split on blank lines, strip each block, drop empty ones.
inline std::vector<std::string> text_blocks(const std::string& text) {
  std::vector<std::string> blocks;
  std::string cur;
  auto flush = [&] {
    const size_t a = cur.find_first_not_of(" \t\r\n"), b = cur.find_last_not_of(" \t\r\n");
    if (a != std::string::npos) blocks.push_back(cur.substr(a, b - a + 1));
    cur.clear();
  };
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) {
      flush();
    } else {
      cur += cur.empty() ? line : "\n" + line;
    }
  }
  flush();
  return blocks;
}

}  // namespace vkq::test
