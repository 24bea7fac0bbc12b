#include "model/llama_config.hpp"

#include <cmath>

#include "model/gguf.hpp"
#include "model/llama2c.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::model {

namespace {

[[noreturn]] void fail(const LlamaConfig& c, const std::string& problem) {
  throw Error(c.source + ": " + problem);
}

uint32_t get_dim(const GgufFile& f, const std::string& key) {
  const GgufValue* v = f.find(key);
  if (!v) throw Error(f.path() + ": missing required metadata key '" + key + "'");
  const uint64_t x = v->as_u64(key);
  if (x == 0 || x > (1u << 30)) throw Error(f.path() + ": metadata key '" + key + "' = " + std::to_string(x) + " is out of range");
  return uint32_t(x);
}

uint32_t get_dim_or(const GgufFile& f, const std::string& key, uint32_t fallback) {
  return f.find(key) ? get_dim(f, key) : fallback;
}

}  // namespace

void validate_llama_config(const LlamaConfig& c) {
  if (!c.dim || !c.hidden_dim || !c.n_layers || !c.n_heads || !c.n_kv_heads || !c.head_dim || !c.vocab_size ||
      !c.context_length)
    fail(c, "model dimensions must all be positive");
  if (c.n_heads % c.n_kv_heads != 0)
    fail(c, "head_count " + std::to_string(c.n_heads) + " is not a multiple of head_count_kv " +
                std::to_string(c.n_kv_heads));
  if (c.rope_dim == 0 || c.rope_dim % 2 != 0 || c.rope_dim > c.head_dim)
    fail(c, "rope.dimension_count " + std::to_string(c.rope_dim) + " must be even and at most the head size " +
                std::to_string(c.head_dim));
  if (!(c.rope_freq_base > 0) || !std::isfinite(c.rope_freq_base)) fail(c, "rope.freq_base must be positive");
  if (!(c.rope_scale > 0) || !std::isfinite(c.rope_scale)) fail(c, "rope scaling factor must be positive");
  if (!(c.rms_eps >= 0) || !std::isfinite(c.rms_eps)) fail(c, "layer_norm_rms_epsilon must be finite and >= 0");
  if (c.swa_window > 0 && c.swa_layers.size() != c.n_layers) fail(c, "sliding-window layer pattern does not cover every block");
  if (!(c.rope_freq_base_swa > 0) || !std::isfinite(c.rope_freq_base_swa)) fail(c, "rope.freq_base_swa must be positive");
}

// gemma3's additions to the llama block, as llama.cpp's llama_model_gemma3 reads them.
void read_gemma3(const GgufFile& f, const std::string& a, LlamaConfig& c) {
  c.embed_scale = double(std::sqrt(float(c.dim)));  // ggml_scale(x, sqrtf(n_embd))
  c.post_norms = true;
  c.ffn_activation = FfnActivation::GeluTanh;
  if (c.n_layers == 62) c.attn_scale = double(1.0f / std::sqrt(float(c.dim / c.n_heads)));  // Gemma 3 27B
  if (f.find(a + "final_logit_softcapping") && f.get_f64(a + "final_logit_softcapping") != 0.0)
    throw Error(f.path() + ": " + a + "final_logit_softcapping is set; logit soft-capping is not supported");
  c.swa_window = get_dim_or(f, a + "attention.sliding_window", 0);
  if (c.swa_window == 0) return;
  uint32_t pattern = 6;  // every sixth block attends globally
  c.swa_layers.assign(c.n_layers, false);
  const std::string pk = a + "attention.sliding_window_pattern";
  if (const GgufValue* p = f.find(pk); p && p->type == GgufValueType::ARRAY) {
    const auto& items = p->as_array(pk);
    if (items.size() != c.n_layers)
      throw Error(f.path() + ": " + pk + " has " + std::to_string(items.size()) + " entries for " +
                  std::to_string(c.n_layers) + " blocks");
    for (uint32_t i = 0; i < c.n_layers; ++i) c.swa_layers[i] = items[i].as_bool(pk);
  } else {
    if (p) pattern = get_dim(f, pk);
    for (uint32_t i = 0; i < c.n_layers; ++i) c.swa_layers[i] = i % pattern < pattern - 1;
  }
  if (f.find(a + "rope.freq_base_swa")) c.rope_freq_base_swa = f.get_f64(a + "rope.freq_base_swa");
}

// The mixture-of-experts keys of llama.cpp's hparams (expert_count, expert_used_count, and qwen3moe's
// expert_feed_forward_length), refusing what the forward pass does not run: shared experts, expert groups,
// a gating function other than softmax.
void read_experts(const GgufFile& f, const std::string& a, LlamaConfig& c) {
  c.n_experts = get_dim(f, a + "expert_count");
  c.n_experts_used = get_dim(f, a + "expert_used_count");
  if (c.n_experts_used > c.n_experts)
    throw Error(f.path() + ": " + a + "expert_used_count " + std::to_string(c.n_experts_used) + " exceeds expert_count " +
                std::to_string(c.n_experts));
  if (c.n_experts > 1024) throw Error(f.path() + ": " + a + "expert_count " + std::to_string(c.n_experts) + " is out of range (at most 1024)");
  if (c.architecture == "qwen3moe")  // llama.cpp: n_ff_exp, else n_ff / n_expert_used
    c.hidden_dim = get_dim_or(f, a + "expert_feed_forward_length", c.hidden_dim / c.n_experts_used);
  for (const char* k : {"expert_shared_count", "expert_group_count"})
    if (f.find(a + k) && f.get_f64(a + k) != 0)
      throw Error(f.path() + ": " + a + k + " is set; shared experts and expert groups are not supported");
  if (f.find(a + "expert_gating_func") && f.get_f64(a + "expert_gating_func") != 1)  // LLAMA_EXPERT_GATING_FUNC_TYPE_SOFTMAX
    throw Error(f.path() + ": " + a + "expert_gating_func is not softmax; only softmax routing is supported");
}

LlamaConfig llama_config_from_gguf(const GgufFile& f) {
  LlamaConfig c;
  c.source = f.path();
  const GgufValue* arch = f.find("general.architecture");
  if (!arch) throw Error(f.path() + ": missing required metadata key 'general.architecture'");
  c.architecture = arch->as_string("general.architecture");
  if (c.architecture != "llama" && c.architecture != "qwen2" && c.architecture != "qwen3" && c.architecture != "qwen3moe" &&
      c.architecture != "gemma3" && c.architecture != "phi3")
    throw Error(f.path() + ": unsupported architecture '" + c.architecture + "' (supported: " +
                kSupportedArchitectures + ")");
  const std::string a = c.architecture + ".";
  c.dim = get_dim(f, a + "embedding_length");
  c.hidden_dim = get_dim(f, a + "feed_forward_length");
  c.n_layers = get_dim(f, a + "block_count");
  c.n_heads = get_dim(f, a + "attention.head_count");
  c.n_kv_heads = get_dim_or(f, a + "attention.head_count_kv", c.n_heads);
  if (c.dim % c.n_heads != 0 && !f.find(a + "attention.key_length"))
    throw Error(f.path() + ": embedding_length " + std::to_string(c.dim) + " is not a multiple of head_count " +
                std::to_string(c.n_heads));
  c.head_dim = get_dim_or(f, a + "attention.key_length", c.dim / c.n_heads);
  if (get_dim_or(f, a + "attention.value_length", c.head_dim) != c.head_dim)
    throw Error(f.path() + ": attention.value_length differs from key_length (unsupported)");
  c.context_length = get_dim(f, a + "context_length");
  c.rope_dim = get_dim_or(f, a + "rope.dimension_count", c.head_dim);
  const std::string eps_key = a + "attention.layer_norm_rms_epsilon";
  if (!f.find(eps_key)) throw Error(f.path() + ": missing required metadata key '" + eps_key + "'");
  c.rms_eps = f.get_f64(eps_key);
  if (f.find(a + "rope.freq_base")) c.rope_freq_base = f.get_f64(a + "rope.freq_base");
  // Rope scaling: llama.cpp's rope.scaling.type (none|linear|yarn|longrope) or the legacy scale_linear.
  if (const GgufValue* t = f.find(a + "rope.scaling.type")) {
    const std::string type = t->as_string(a + "rope.scaling.type");
    if (type == "linear") {
      const std::string fk = a + "rope.scaling.factor";
      if (!f.find(fk)) throw Error(f.path() + ": missing required metadata key '" + fk + "' for linear rope scaling");
      c.rope_scale = f.get_f64(fk);
    } else if (type != "none") {
      throw Error(f.path() + ": unsupported rope scaling type '" + type + "' (supported: none, linear)");
    }
  } else if (f.find(a + "rope.scale_linear")) {
    c.rope_scale = f.get_f64(a + "rope.scale_linear");
  }
  const GgufTensorInfo* emb = f.find_tensor("token_embd.weight");
  if (!emb) throw Error(f.path() + ": missing tensor 'token_embd.weight' (needed for the vocabulary size)");
  if (emb->dims.size() != 2 || emb->dims[0] != c.dim)
    throw Error(f.path() + ": tensor 'token_embd.weight' is not " + std::to_string(c.dim) + " columns wide");
  c.vocab_size = uint32_t(emb->dims[1]);
  // llama.cpp's rope type: LLAMA_ROPE_TYPE_NORM for `llama`, LLAMA_ROPE_TYPE_NEOX for `qwen2`/`qwen3`.
  c.rope_layout = c.architecture == "llama" ? RopeLayout::Normal : RopeLayout::NeoX;
  c.qkv_bias = c.architecture == "qwen2";
  c.qk_norm = c.architecture == "qwen3" || c.architecture == "qwen3moe" || c.architecture == "gemma3";
  if (c.architecture == "qwen3moe" || (c.architecture == "llama" && f.find(a + "expert_count"))) read_experts(f, a, c);
  if (c.architecture == "gemma3") read_gemma3(f, a, c);
  if (c.architecture == "phi3") {
    // llama.cpp's LLM_ARCH_PHI3: fused projections, NeoX RoPE; its sliding window is disabled there too.
    c.fused_qkv = f.find_tensor("blk.0.attn_qkv.weight") != nullptr;
    c.fused_gate_up = true;
    if (f.find_tensor("rope_factors_long.weight") || f.find_tensor("rope_factors_short.weight"))
      throw Error(f.path() + ": LongRoPE factors (rope_factors_long/short, Phi-3 128k) are not supported");
  }
  validate_llama_config(c);
  return c;
}

LlamaConfig llama_config_from_llama2c(const Llama2cConfig& l, const std::string& path) {
  LlamaConfig c;
  c.source = path;
  c.dim = uint32_t(l.dim);
  c.hidden_dim = uint32_t(l.hidden_dim);
  c.n_layers = uint32_t(l.n_layers);
  c.n_heads = uint32_t(l.n_heads);
  c.n_kv_heads = uint32_t(l.n_kv_heads);
  c.head_dim = l.n_heads > 0 ? uint32_t(l.dim / l.n_heads) : 0;
  c.vocab_size = uint32_t(l.vocab_size);
  c.context_length = uint32_t(l.seq_len);
  c.rope_dim = c.head_dim;
  validate_llama_config(c);
  return c;
}

LinearShape linear_shape(const LlamaConfig& c, std::string_view name) {
  if (name == "attn_q") return {c.q_dim(), c.dim};
  if (name == "attn_k" || name == "attn_v") return {c.kv_dim(), c.dim};
  if (name == "attn_output") return {c.dim, c.q_dim()};
  if (name == "ffn_gate" || name == "ffn_up") return {c.hidden_dim, c.dim};
  if (name == "ffn_down") return {c.dim, c.hidden_dim};
  if (name == "attn_qkv") return {c.q_dim() + 2 * c.kv_dim(), c.dim};
  if (name == "ffn_gate_up") return {2 * c.hidden_dim, c.dim};
  throw Error("unknown linear layer '" + std::string(name) +
              "' (expected attn_q, attn_k, attn_v, attn_output, ffn_gate, ffn_up, ffn_down, attn_qkv or ffn_gate_up)");
}

}  // namespace vkq::model
