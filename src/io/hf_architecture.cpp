#include "io/hf_architecture.hpp"

#include <cmath>
#include <nlohmann/json.hpp>
#include <regex>

#include "io/gguf_values.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::io {

namespace {

using nlohmann::json;

const HfArchitecture kArchitectures[] = {
    {"LlamaForCausalLM", "llama", true, false, {}},
    {"MistralForCausalLM", "llama", true, false, {}},
    {"Qwen2ForCausalLM", "qwen2", false, false, {}},
    {"Qwen3ForCausalLM", "qwen3", false, false, {}},
    {"Gemma3ForCausalLM", "gemma3", false, true, {true}},
    {"Phi3ForCausalLM", "phi3", false, false, {false, true}},
};

bool is_gemma3(const HfArchitecture& a) { return std::string(a.gguf_arch) == "gemma3"; }

// The first of `keys` present in the config (convert_hf_to_gguf.py's find_hparam).
const json* find_hparam(const json& config, std::initializer_list<const char*> keys) {
  for (const char* k : keys)
    if (auto it = config.find(k); it != config.end() && !it->is_null()) return &*it;
  return nullptr;
}

uint32_t as_u32(const json& v, const char* what) {
  if (!v.is_number_unsigned() || v.get<uint64_t>() > 0xFFFFFFFFu)
    throw Error(std::string("config.json: ") + what + " is not a non-negative integer");
  return v.get<uint32_t>();
}

float as_f32(const json& v, const char* what) {
  if (!v.is_number()) throw Error(std::string("config.json: ") + what + " is not a number");
  return float(v.get<double>());
}

// rope_parameters (transformers 5) or rope_scaling, with rope_theta mirrored in, as the converter does.
json rope_parameters(const json& config) {
  json rp = config.contains("rope_parameters") && config["rope_parameters"].is_object() ? config["rope_parameters"]
            : config.contains("rope_scaling") && config["rope_scaling"].is_object()    ? config["rope_scaling"]
                                                                                        : json::object();
  if (!rp.contains("full_attention") && !rp.contains("sliding_attention")) {
    if (const json* local = find_hparam(config, {"local_rope_theta", "rope_local_theta", "rope_theta_local",
                                                 "swa_rope_theta", "rope_local_base_freq"}))
      rp["sliding_attention"] = json{{"rope_theta", *local}};
    if (!rp.contains("rope_theta"))
      if (const json* theta = find_hparam(config, {"global_rope_theta", "rope_global_theta", "rope_theta_global",
                                                   "rope_theta", "rotary_emb_base"}))
        rp["rope_theta"] = *theta;
    if (!rp.contains("rope_type") && rp.contains("type")) rp["rope_type"] = rp["type"];
    if (!rp.contains("partial_rotary_factor"))
      if (const json* f = find_hparam(config, {"partial_rotary_factor", "rope_pct", "rope_percent"}))
        rp["partial_rotary_factor"] = *f;
    if (!rp.contains("original_max_position_embeddings") && config.contains("original_max_position_embeddings"))
      rp["original_max_position_embeddings"] = config["original_max_position_embeddings"];
  }
  return rp;
}

}  // namespace

std::string hf_supported_architectures() {
  std::string out;
  for (const auto& a : kArchitectures) out += (out.empty() ? "" : ", ") + std::string(a.hf_class);
  return out;
}

const HfArchitecture& hf_architecture(const json& config, const std::string& config_path) {
  const json archs = config.value("architectures", json::array());
  if (!archs.is_array() || archs.empty() || !archs[0].is_string())
    throw Error(config_path + ": no \"architectures\" entry naming the model class (supported: " +
                hf_supported_architectures() + ")");
  const std::string cls = archs[0].get<std::string>();
  for (const auto& a : kArchitectures)
    if (cls == a.hf_class) return a;
  throw Error(config_path + ": architecture " + cls + " is not supported (supported: " + hf_supported_architectures() +
              ")");
}

void add_hf_hparams(const HfArchitecture& arch, const json& config, uint32_t file_type, const std::string& model_name,
                    HfMetadata& md) {
  const std::string a = arch.gguf_arch;
  auto key = [&](const std::string& k) { return a + "." + k; };
  md.set("general.architecture", gguf_string(a));
  md.set("general.type", gguf_string("model"));
  md.set("general.name", gguf_string(model_name));
  const json* layers = find_hparam(config, {"num_hidden_layers", "n_layers", "num_layers", "n_layer"});
  if (!layers) throw Error("config.json: num_hidden_layers is missing");
  md.set(key("block_count"), gguf_u32(as_u32(*layers, "num_hidden_layers")));
  if (const json* v = find_hparam(config, {"max_position_embeddings", "n_ctx", "n_positions", "max_length",
                                           "max_sequence_length", "model_max_length"}))
    md.set(key("context_length"), gguf_u32(as_u32(*v, "max_position_embeddings")));
  if (const json* v = find_hparam(config, {"hidden_size", "n_embd", "dim"}))
    md.set(key("embedding_length"), gguf_u32(as_u32(*v, "hidden_size")));
  if (const json* v = find_hparam(config, {"prefix_dense_intermediate_size", "dense_intermediate_size",
                                           "intermediate_size", "n_inner", "hidden_dim"}))
    md.set(key("feed_forward_length"), gguf_u32(as_u32(*v, "intermediate_size")));
  if (const json* v = find_hparam(config, {"num_attention_heads", "n_head", "n_heads"}))
    md.set(key("attention.head_count"), gguf_u32(as_u32(*v, "num_attention_heads")));
  if (const json* v = find_hparam(config, {"num_key_value_heads", "n_kv_heads"}))
    md.set(key("attention.head_count_kv"), gguf_u32(as_u32(*v, "num_key_value_heads")));

  const json rp_all = rope_parameters(config);
  const json rp = rp_all.contains("full_attention") ? rp_all["full_attention"] : rp_all;
  if (rp.contains("rope_type") && rp["rope_type"].is_string() && a != "phi3") {
    const std::string type = rp["rope_type"].get<std::string>();
    const bool has_factor = rp.contains("factor") && rp["factor"].is_number();
    if (type == "linear" && has_factor) {
      md.set(key("rope.scaling.type"), gguf_string("linear"));
      md.set(key("rope.scaling.factor"), gguf_f32(as_f32(rp["factor"], "rope factor")));
    } else if (type == "yarn" && has_factor) {
      throw Error("config.json: YaRN RoPE scaling is not supported by vkquant's forward pass");
    } else if (type != "llama3" && type != "default") {
      throw Error("config.json: RoPE scaling '" + type + "' is not supported (linear and llama3 are)");
    }
  }
  if (rp.contains("rope_theta")) md.set(key("rope.freq_base"), gguf_f32(as_f32(rp["rope_theta"], "rope_theta")));
  if (rp_all.contains("sliding_attention") && rp_all["sliding_attention"].contains("rope_theta"))
    md.set(key("rope.freq_base_swa"), gguf_f32(as_f32(rp_all["sliding_attention"]["rope_theta"], "rope_local_base_freq")));
  if (const json* v = find_hparam(config, {"rms_norm_eps", "norm_eps"}))
    md.set(key("attention.layer_norm_rms_epsilon"), gguf_f32(as_f32(*v, "rms_norm_eps")));
  const bool phi3 = a == "phi3";  // Phi3MiniModel writes its own set of keys (below), not these
  if (const json* v = find_hparam(config, {"head_dim"}); v && !phi3) {
    md.set(key("attention.key_length"), gguf_u32(as_u32(*v, "head_dim")));
    md.set(key("attention.value_length"), gguf_u32(as_u32(*v, "head_dim")));
  }
  md.set("general.file_type", gguf_u32(file_type));

  if (a == "llama") {
    md.set(key("vocab_size"), gguf_u32(as_u32(config.value("vocab_size", json()), "vocab_size")));
    const json* hd = find_hparam(config, {"head_dim"});
    const uint32_t rope_dim = hd ? as_u32(*hd, "head_dim")
                                 : as_u32(config.value("hidden_size", json()), "hidden_size") /
                                       as_u32(config.value("num_attention_heads", json()), "num_attention_heads");
    md.set(key("rope.dimension_count"), gguf_u32(rope_dim));
  }
  if (a == "phi3") {  // Phi3MiniModel's own keys
    if (!rp_all.contains("original_max_position_embeddings"))
      throw Error("config.json: original_max_position_embeddings is missing (a Phi-3 checkpoint has it)");
    if (rp_all.contains("long_factor") && !rp_all["long_factor"].is_null())
      throw Error("config.json: LongRoPE scaling (Phi-3 128k: long_factor/short_factor) is not supported");
    md.set(key("rope.scaling.original_context_length"),
           gguf_u32(as_u32(rp_all["original_max_position_embeddings"], "original_max_position_embeddings")));
    const double rot_pct = rp_all.value("partial_rotary_factor", 1.0);
    const uint32_t n_embd = as_u32(config.value("hidden_size", json()), "hidden_size");
    const uint32_t n_head = as_u32(config.value("num_attention_heads", json()), "num_attention_heads");
    md.set(key("rope.dimension_count"), gguf_u32(uint32_t(int64_t(rot_pct * n_embd) / n_head)));
    const json sw = config.value("sliding_window", json());
    md.set(key("attention.sliding_window"), gguf_u32(sw.is_null() ? 0 : as_u32(sw, "sliding_window")));
  }
  if (is_gemma3(arch)) {  // defaults the HF config may leave out, as llama.cpp's converter fills them
    md.set(key("context_length"), gguf_u32(as_u32(config.value("max_position_embeddings", json(131072)), "max_position_embeddings")));
    md.set(key("attention.head_count"), gguf_u32(as_u32(config.value("num_attention_heads", json(8)), "num_attention_heads")));
    md.set(key("attention.layer_norm_rms_epsilon"), gguf_f32(as_f32(config.value("rms_norm_eps", json(1e-6)), "rms_norm_eps")));
    md.set(key("attention.key_length"), gguf_u32(as_u32(config.value("head_dim", json(256)), "head_dim")));
    md.set(key("attention.value_length"), gguf_u32(as_u32(config.value("head_dim", json(256)), "head_dim")));
    md.set(key("rope.freq_base"), gguf_f32(as_f32(rp.value("rope_theta", json(1000000.0)), "rope_theta")));
    if (config.contains("final_logit_softcapping") && config["final_logit_softcapping"].is_number() &&
        config["final_logit_softcapping"].get<double>() != 0)
      throw Error("config.json: final_logit_softcapping is not supported by vkquant's forward pass");
    if (config.value("sliding_window_pattern", json()) != json(1))
      md.set(key("attention.sliding_window"), gguf_u32(as_u32(config.value("sliding_window", json()), "sliding_window")));
    md.set(key("attention.head_count_kv"), gguf_u32(as_u32(config.value("num_key_value_heads", json(4)), "num_key_value_heads")));
  }
  md.set("general.quantization_version", gguf_u32(2));
}

std::optional<std::string> hf_to_gguf_tensor_name(const HfArchitecture& arch, const std::string& hf_name) {
  static const std::regex block(R"(model\.layers\.(\d+)\.(.+))");
  if (hf_name == "model.embed_tokens.weight") return "token_embd.weight";
  if (hf_name == "model.norm.weight") return "output_norm.weight";
  if (hf_name == "lm_head.weight") return "output.weight";
  std::smatch m;
  if (std::regex_match(hf_name, m, block)) {
    const std::string b = "blk." + m[1].str() + ".";
    const std::string rest = m[2].str();
    if (rest.ends_with("rotary_emb.inv_freq")) return std::nullopt;
    const bool gemma = is_gemma3(arch);
    static const std::pair<const char*, const char*> common[] = {
        {"input_layernorm.weight", "attn_norm.weight"},   {"self_attn.q_proj.weight", "attn_q.weight"},
        {"self_attn.k_proj.weight", "attn_k.weight"},     {"self_attn.v_proj.weight", "attn_v.weight"},
        {"self_attn.q_proj.bias", "attn_q.bias"},         {"self_attn.k_proj.bias", "attn_k.bias"},
        {"self_attn.v_proj.bias", "attn_v.bias"},         {"self_attn.o_proj.weight", "attn_output.weight"},
        {"self_attn.q_norm.weight", "attn_q_norm.weight"}, {"self_attn.k_norm.weight", "attn_k_norm.weight"},
        {"mlp.gate_proj.weight", "ffn_gate.weight"},      {"mlp.up_proj.weight", "ffn_up.weight"},
        {"mlp.down_proj.weight", "ffn_down.weight"},      {"self_attn.qkv_proj.weight", "attn_qkv.weight"},
        {"mlp.gate_up_proj.weight", "ffn_up.weight"}};
    for (const auto& [hf, gg] : common)
      if (rest == hf) return b + gg;
    if (rest == "post_attention_layernorm.weight") return b + (gemma ? "post_attention_norm.weight" : "ffn_norm.weight");
    if (gemma && rest == "pre_feedforward_layernorm.weight") return b + "ffn_norm.weight";
    if (gemma && rest == "post_feedforward_layernorm.weight") return b + "post_ffw_norm.weight";
  }
  if (hf_name.ends_with("rotary_emb.inv_freq")) return std::nullopt;
  throw Error("tensor '" + hf_name + "' has no GGUF counterpart in a " + arch.hf_class + " model");
}

std::vector<float> hf_llama3_rope_factors(const json& config) {
  const json rp_all = rope_parameters(config);
  const json rp = rp_all.contains("full_attention") ? rp_all["full_attention"] : rp_all;
  if (!rp.contains("rope_type") || !rp["rope_type"].is_string()) return {};
  std::string type = rp["rope_type"].get<std::string>();
  for (auto& c : type) c = char(std::tolower(static_cast<unsigned char>(c)));
  if (type != "llama3") return {};
  const double base = rp.value("rope_theta", 10000.0);
  const uint32_t dim = config.contains("head_dim") && config["head_dim"].is_number_unsigned()
                           ? config["head_dim"].get<uint32_t>()
                           : config.value("hidden_size", 0u) / std::max(1u, config.value("num_attention_heads", 1u));
  const double factor = rp.value("factor", 8.0);
  const double low = rp.value("low_freq_factor", 1.0), high = rp.value("high_freq_factor", 4.0);
  const double old_ctx = rp.value("original_max_position_embeddings", 8192.0);
  const double low_wavelen = old_ctx / low, high_wavelen = old_ctx / high;
  std::vector<float> out;
  // float32 steps in the order torch evaluates the converter's expressions (x / t is t.reciprocal() * x)
  for (uint32_t i = 0; i < dim; i += 2) {
    const float freq = 1.0f / std::pow(float(base), float(i) / float(dim));
    const float wavelen = (1.0f / freq) * float(2.0 * M_PI);
    if (wavelen < high_wavelen) {
      out.push_back(1.0f);
    } else if (wavelen > low_wavelen) {
      out.push_back(float(factor));
    } else {
      const float smooth = ((1.0f / wavelen) * float(old_ctx) - float(low)) / float(high - low);
      out.push_back(1.0f / ((1.0f - smooth) / float(factor) + smooth));
    }
  }
  return out;
}

}  // namespace vkq::io
