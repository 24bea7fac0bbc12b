// Architecture of a LLaMA-family model, read from GGUF metadata (`<arch>.*` keys as llama.cpp
// names them) or from a llama2.c checkpoint header, validated once so kernels can trust it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace vkq::model {

class GgufFile;
struct Llama2cConfig;

// Which dimensions RoPE rotates together: Normal = interleaved pairs (2i, 2i+1), as llama.cpp's
// `llama` arch applies it to its (converter-permuted) q/k; NeoX = (i, i + rot_dim/2).
enum class RopeLayout { Normal, NeoX };

// The gated FFN's activation: SiLU (llama, qwen) or GELU with the tanh approximation (gemma3).
enum class FfnActivation { Silu, GeluTanh };

struct LlamaConfig {
  std::string architecture = "llama";
  std::string source;             // the file it was read from (for error messages)
  uint32_t dim = 0;               // embedding_length
  uint32_t hidden_dim = 0;        // feed_forward_length
  uint32_t n_layers = 0;          // block_count
  uint32_t n_heads = 0;
  uint32_t n_kv_heads = 0;
  uint32_t head_dim = 0;          // dim / n_heads unless attention.key_length says otherwise
  uint32_t vocab_size = 0;        // rows of token_embd
  uint32_t context_length = 0;
  uint32_t rope_dim = 0;          // rope.dimension_count: leading dims of each head that rotate
  double rope_freq_base = 10000.0;
  double rope_scale = 1.0;        // linear scaling factor: positions are divided by it
  RopeLayout rope_layout = RopeLayout::Normal;
  double rms_eps = 1e-5;
  bool qkv_bias = false;          // qwen2: attn_q/k/v carry biases (blk.N.attn_{q,k,v}.bias)
  bool qk_norm = false;           // qwen3, gemma3: RMSNorm of each q and k head (blk.N.attn_{q,k}_norm.weight)
  // phi3: q, k and v in one tensor (blk.N.attn_qkv.weight, rows q | k | v), and gate and up in one
  // (blk.N.ffn_up.weight, rows gate | up). The forward pass uses the parts; a solver sees each whole.
  bool fused_qkv = false;
  bool fused_gate_up = false;
  // gemma3:
  double embed_scale = 1.0;       // the looked-up embedding is multiplied by this (√dim, rounded to fp32)
  bool post_norms = false;        // RMSNorm of the attention and FFN outputs before each residual add
  FfnActivation ffn_activation = FfnActivation::Silu;
  double attn_scale = 0;          // query scale; 0 = 1/√head_dim
  uint32_t swa_window = 0;        // sliding-window attention: a key at most window − 1 positions back; 0 = none
  std::vector<bool> swa_layers;   // blocks that use the window (and rope_freq_base_swa, scale 1)
  double rope_freq_base_swa = 10000.0;
  // Mixture of experts (qwen3moe; llama with expert_count, as Mixtral): each block's FFN is n_experts
  // gated FFNs of hidden_dim (the expert width) in 3-D tensors blk.N.ffn_{gate,up,down}_exps, and a router
  // blk.N.ffn_gate_inp (n_experts x dim); a token goes to its n_experts_used most probable experts (softmax
  // over all), their outputs weighted by those probabilities renormalised to sum 1. 0 = a dense FFN.
  uint32_t n_experts = 0;
  uint32_t n_experts_used = 0;

  uint32_t q_dim() const { return n_heads * head_dim; }
  uint32_t kv_dim() const { return n_kv_heads * head_dim; }
  bool moe() const { return n_experts > 0; }
};

// Reads `<arch>.*` keys; general.architecture must be one the forward pass runs: `llama` (also
// Mistral, which llama.cpp writes as llama), `qwen2` (llama's block with q/k/v biases and NeoX
// RoPE, as llama.cpp's LLM_ARCH_QWEN2) or `qwen3` (no biases; each q and k head RMS-normalised before
// RoPE, NeoX, as LLM_ARCH_QWEN3). vkq::Error naming the key and the file for a missing required
// key, naming the architecture (and listing the supported ones) for any other, and for an
// unsupported rope scaling type or inconsistent dimensions. `gemma3` is llama.cpp's LLM_ARCH_GEMMA3:
// embedding × √dim, per-head q/k RMSNorm, post-attention and post-FFN RMSNorms, GeGLU (tanh), sliding-
// window attention on all but every sixth block (or attention.sliding_window_pattern) with its own RoPE
// base (rope.freq_base_swa, default 10000), NeoX. `qwen3moe` is qwen3's attention with a mixture-of-experts FFN
// (expert_feed_forward_length wide, softmax routing, top expert_used_count renormalised), as LLM_ARCH_QWEN3MOE;
// `llama` with expert_count > 0 is Mixtral's block (the same routing).
LlamaConfig llama_config_from_gguf(const GgufFile& file);

// The llama2.c header's config (RMSNorm eps 1e-5, theta 10000, interleaved RoPE, as run.c does).
LlamaConfig llama_config_from_llama2c(const Llama2cConfig& c, const std::string& path);

// Throws vkq::Error when the dimensions do not fit together (zero sizes, heads not dividing).
void validate_llama_config(const LlamaConfig& c);

// rows x cols of a block's linear named as in GGUF (attn_q, attn_k, attn_v, attn_output,
// ffn_gate, ffn_up, ffn_down), or of a fused one (attn_qkv; ffn_gate_up, which phi3 stores as
// ffn_up); vkq::Error for any other name.
struct LinearShape {
  uint32_t rows = 0, cols = 0;
};
LinearShape linear_shape(const LlamaConfig& c, std::string_view name);

// The seven linears of a block in GGUF naming, in the order the forward pass uses them.
// Architectures llama_config_from_gguf accepts, for messages.
inline constexpr const char* kSupportedArchitectures = "llama (also Mistral and Mixtral), qwen2, qwen3, qwen3moe, gemma3, phi3";

inline constexpr const char* kBlockLinears[7] = {"attn_q", "attn_k", "attn_v", "attn_output",
                                                  "ffn_gate", "ffn_up", "ffn_down"};

}  // namespace vkq::model
