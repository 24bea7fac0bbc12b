#include "io/output_plan.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <map>
#include <regex>
#include <sstream>

#include "model/gguf.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::io {
namespace {

using model::GgmlType;

// The writable tensor types, in the order error messages list them.
constexpr std::array<GgmlType, 15> kSupported = {
    GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0,   GgmlType::Q5_1,   GgmlType::Q2_K, GgmlType::Q3_K,
    GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::IQ4_NL, GgmlType::IQ4_XS, GgmlType::F16,  GgmlType::BF16,
    GgmlType::F32};

// llama-quantize's K mixtures (tools/quantize/quantize.cpp QUANT_OPTIONS, llama.h LLAMA_FTYPE_MOSTLY_*).
struct MixtureName {
  std::string_view name;
  uint32_t ftype;
  GgmlType base;
};
constexpr std::array<MixtureName, 15> kMixtures = {{{"Q2_K", 10, GgmlType::Q2_K},   {"Q2_K_S", 21, GgmlType::Q2_K},
                                                    {"Q3_K_S", 11, GgmlType::Q3_K}, {"Q3_K_M", 12, GgmlType::Q3_K},
                                                    {"Q3_K_L", 13, GgmlType::Q3_K}, {"Q4_K_S", 14, GgmlType::Q4_K},
                                                    {"Q4_K_M", 15, GgmlType::Q4_K}, {"Q5_K_S", 16, GgmlType::Q5_K},
                                                    {"Q5_K_M", 17, GgmlType::Q5_K}, {"Q6_K", 18, GgmlType::Q6_K},
                                                    {"IQ4_NL", 25, GgmlType::IQ4_NL}, {"IQ4_XS", 30, GgmlType::IQ4_XS},
                                                    {"Q3_K", 12, GgmlType::Q3_K},   {"Q4_K", 15, GgmlType::Q4_K},
                                                    {"Q5_K", 17, GgmlType::Q5_K}}};  // the last three: aliases of _M
constexpr size_t kAliases = 3;

// llama-quantize's mixture names vkquant cannot write yet (tools/quantize/quantize.cpp).
constexpr std::array<std::string_view, 7> kUnsupportedMixtures = {"IQ2_M", "IQ3_XS", "IQ3_M", "MXFP4_MOE", "COPY",
                                                                  "IQ1_M", "IQ2_S"};

std::string upper(std::string_view s) {
  std::string u(s);
  for (char& c : u) c = char(std::toupper(static_cast<unsigned char>(c)));
  return u;
}

bool supported(GgmlType t) { return std::find(kSupported.begin(), kSupported.end(), t) != kSupported.end(); }

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}
bool contains(std::string_view s, std::string_view part) { return s.find(part) != std::string_view::npos; }

// ggml_n_dims: dimensions up to the last one larger than 1 (at least 1).
size_t n_dims(const std::vector<uint64_t>& dims) {
  size_t n = 1;
  for (size_t i = 0; i < dims.size(); ++i)
    if (dims[i] > 1) n = i + 1;
  return n;
}

GgmlType parse_type(std::string_view name, std::string_view what) {
  const std::string u = upper(name);
  if (!u.empty() && std::all_of(u.begin(), u.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    uint32_t id = 0;
    const bool parsed = std::from_chars(u.data(), u.data() + u.size(), id).ec == std::errc();
    for (GgmlType t : kSupported)
      if (parsed && llama_file_type(t) == id) return t;
    throw Error(std::string(what) + " " + u + ": llama file type " + u + " is not supported yet, supported: " +
                supported_output_types());
  }
  if (const auto t = model::find_ggml_type(u)) {
    if (supported(*t)) return *t;
    throw Error(std::string(what) + " " + u + " is not supported yet, supported: " + supported_output_types());
  }
  if (what == "output type")
    if (const auto mix = find_mixture(u)) return mix->base;
  if (std::find(kUnsupportedMixtures.begin(), kUnsupportedMixtures.end(), u) != kUnsupportedMixtures.end())
    throw Error(std::string(what) + " " + u + " is not supported yet, supported: " + supported_output_types());
  throw Error(std::string(what) + " '" + std::string(name) + "' is unknown, supported: " + supported_output_types());
}

// llama.cpp tensor_allows_quantization: which tensors llama-quantize never quantizes. Returns the
// reason a tensor keeps its bytes, or "" when it may be quantized.
std::string kept_reason(const PlanInput& in) {
  const std::string type = model::ggml_type_name(in.type);
  const size_t nd = n_dims(in.dims);
  if (nd < 2) return "1-D tensor (norm, bias): kept as " + type + ", as llama-quantize does";
  if (!ends_with(in.name, "weight")) return "not a weight: kept as " + type + ", as llama-quantize does";
  if (contains(in.name, "_norm.weight")) return "norm weight: kept as " + type + ", as llama-quantize does";
  // Small or index-like tensors llama-quantize leaves alone by name.
  for (std::string_view part : {"ffn_gate_inp.weight", "position_embd.weight", "token_types.weight", "ssm_conv1d",
                                "attn_rel_b.weight", "time_mix_", "altup", "laurel", "per_layer_model_proj"})
    if (contains(in.name, part)) {
      std::string r(part);  // appended, not "'" + string: GCC 12 reports a false -Wrestrict on that
      r += " tensors are not quantized by llama-quantize: kept as ";
      return r + type;
    }
  if (nd > 2 && !is_expert_stack(in.name)) return std::to_string(nd) + "-D tensor: vkquant quantizes 2-D weights only (llama-quantize would quantize it); kept as " + type;
  return "";
}

// N of "blk.N.…", or nothing.
std::optional<size_t> block_index(std::string_view name) {
  if (name.substr(0, 4) != "blk.") return std::nullopt;
  size_t n = 0;
  const char* first = name.data() + 4;
  const auto [end, ec] = std::from_chars(first, name.data() + name.size(), n);
  if (ec != std::errc() || end == first || end == name.data() + name.size() || *end != '.') return std::nullopt;
  return n;
}

bool is_token_embd(std::string_view name) { return name == "token_embd.weight"; }
bool is_output(std::string_view name) { return name == "output.weight"; }

// llama_tensor_get_type_impl's use_more_bits: the first and last eighth of the layers and every third between.
bool use_more_bits(size_t i, size_t n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

bool is_attn_v_like(std::string_view name) { return contains(name, "attn_v.weight") || contains(name, "attn_qkv.weight"); }

// tensor_type_fallback: the type llama-quantize writes when a row is not a whole number of t's blocks.
GgmlType fallback_type(GgmlType t) {
  switch (t) {
    case GgmlType::Q2_K:
    case GgmlType::Q3_K: return GgmlType::Q4_0;
    case GgmlType::Q4_K: return GgmlType::Q5_0;
    case GgmlType::Q5_K: return GgmlType::Q5_1;
    case GgmlType::Q6_K: return GgmlType::Q8_0;
    case GgmlType::IQ4_XS: return GgmlType::IQ4_NL;
    default: return t;  // already a 32-block type: F16 below
  }
}

// The K mixtures' rules of llama_tensor_get_type_impl for a dense model (no experts, not Falcon), for
// block linears; `i` is the layer of the tensor, `n` the layer count (n_attention_wv for attn_v).
// Returns the type and the rule's description, or nothing when the mixture keeps its base type.
std::optional<std::pair<GgmlType, std::string>> mixture_rule(const OutputMixture& mix, std::string_view name, size_t i,
                                                              size_t n, const PlanOptions& o) {
  using G = GgmlType;
  const std::string& mx = mix.name;
  auto rule = [&](G t, const std::string& what) {
    return std::optional<std::pair<G, std::string>>({t, "llama-quantize's " + mx + " rule: " + what});
  };
  const uint32_t f = mix.ftype;
  if (is_attn_v_like(name)) {
    std::optional<std::pair<G, std::string>> r;
    if (f == 10) r = o.n_gqa >= 4 ? rule(G::Q4_K, "attn_v in Q4_K when n_head/n_head_kv ≥ 4") : rule(G::Q3_K, "attn_v in Q3_K");
    else if (f == 21 && o.n_gqa >= 4) r = rule(G::Q4_K, "attn_v in Q4_K when n_head/n_head_kv ≥ 4");
    else if (f == 12) r = i < 2 ? rule(G::Q5_K, "attn_v of the first 2 layers in Q5_K") : rule(G::Q4_K, "attn_v in Q4_K");
    else if (f == 13) r = rule(G::Q5_K, "attn_v in Q5_K");
    else if ((f == 15 || f == 17) && use_more_bits(i, n))
      r = rule(G::Q6_K, "attn_v of the first and last eighth of the layers and every third between in Q6_K");
    else if (f == 14 && i < 4) r = rule(G::Q5_K, "attn_v of the first 4 layers in Q5_K");
    else if ((f == 25 || f == 30) && o.n_gqa >= 4) r = rule(G::Q5_K, "attn_v in Q5_K when n_head/n_head_kv ≥ 4");
    const G now = r ? r->first : mix.base;
    if (o.is_70b && (now == G::Q3_K || now == G::Q4_K)) r = rule(G::Q5_K, "attn_v of a 70B model (8 heads share it) in Q5_K");
    return r;
  }
  if (contains(name, "ffn_down")) {
    if (f == 10) return rule(G::Q3_K, "ffn_down in Q3_K");
    if (f == 21 && i < n / 8) return rule(G::Q4_K, "ffn_down of the first n_layer/8 layers in Q4_K");
    if (f == 12) return i < n / 16 ? rule(G::Q5_K, "ffn_down of the first n_layer/16 layers in Q5_K") : rule(G::Q4_K, "ffn_down in Q4_K");
    if (f == 13) return rule(G::Q5_K, "ffn_down in Q5_K");
    if ((f == 15 || f == 17) && use_more_bits(i, n))
      return rule(G::Q6_K, "ffn_down of the first and last eighth of the layers and every third between in Q6_K");
    if (f == 14 && i < n / 8) return rule(G::Q5_K, "ffn_down of the first n_layer/8 layers in Q5_K");
    if ((f == 25 || f == 30) && i < n / 8 && !o.imatrix)
      return rule(G::Q5_K, "ffn_down of the first n_layer/8 layers in Q5_K (without an imatrix)");
    return std::nullopt;
  }
  if (contains(name, "attn_output.weight")) {
    if (f == 10) return rule(G::Q3_K, "attn_output in Q3_K");
    if (f == 12) return rule(G::Q4_K, "attn_output in Q4_K");
    if (f == 13) return rule(G::Q5_K, "attn_output in Q5_K");
  }
  return std::nullopt;
}

// llama_tensor_get_type_impl's rules for a model with exactly 8 experts (written for Mixtral 8x7B), which take
// precedence over the mixtures' attention rules: attn_v and attn_k in Q8_0 for every quantized type, attn_output in
// Q5_K for the listed mixtures (and no other attn_output rule).
std::optional<std::pair<GgmlType, std::string>> moe8_rule(std::string_view name, const PlanOptions& o) {
  if (o.n_expert != 8) return std::nullopt;
  if (is_attn_v_like(name) || contains(name, "attn_k.weight"))
    return std::pair{GgmlType::Q8_0, std::string("llama-quantize's rule for 8-expert models: attn_v and attn_k in Q8_0")};
  if (contains(name, "attn_output.weight")) {
    const uint32_t f = o.mixture ? o.mixture->ftype : 0;
    for (uint32_t m : {10u, 11u, 12u, 14u, 15u, 25u, 30u})  // Q2_K, Q3_K_S/M, Q4_K_S/M, IQ4_NL, IQ4_XS
      if (f == m)
        return std::pair{GgmlType::Q5_K, "llama-quantize's " + o.mixture->name + " rule for 8-expert models: attn_output in Q5_K"};
    return std::pair{o.type, "the requested type (llama-quantize's attn_output rules do not apply to 8-expert models)"};
  }
  return std::nullopt;
}

}  // namespace

std::optional<OutputMixture> find_mixture(std::string_view name) {
  const std::string u = upper(name);
  for (const auto& m : kMixtures)
    if (m.name == u || std::to_string(m.ftype) == u) {
      OutputMixture r;
      r.ftype = m.ftype;
      r.base = m.base;
      for (const auto& canonical : kMixtures)  // aliases resolve to the _M name
        if (canonical.ftype == m.ftype) {
          r.name = canonical.name;
          break;
        }
      return r;
    }
  return std::nullopt;
}

std::string supported_mixtures() {
  std::string s;
  for (size_t i = 0; i + kAliases < kMixtures.size(); ++i) s += (s.empty() ? "" : ", ") + std::string(kMixtures[i].name);
  return s;
}

TensorTypeOverride parse_tensor_type_override(std::string_view spec) {
  const size_t eq = spec.rfind('=');
  if (eq == std::string_view::npos || eq == 0 || eq + 1 == spec.size())
    throw Error("--tensor-type '" + std::string(spec) + "': expected PATTERN=TYPE, e.g. attn_v=Q8_0");
  TensorTypeOverride o;
  o.pattern = std::string(spec.substr(0, eq));
  try {
    std::regex check(o.pattern);
  } catch (const std::regex_error& e) {
    throw Error("--tensor-type '" + std::string(spec) + "': '" + o.pattern + "' is not a regular expression (" + e.what() + ")");
  }
  o.type = parse_type(spec.substr(eq + 1), "--tensor-type");
  return o;
}

std::string supported_output_types() {
  std::string s;
  for (GgmlType t : kSupported) s += (s.empty() ? "" : ", ") + std::string(model::ggml_type_name(t));
  return s;
}

GgmlType parse_output_type(std::string_view name) { return parse_type(name, "output type"); }

GgmlType parse_tensor_type(std::string_view name, std::string_view option) { return parse_type(name, std::string(option) + " type"); }

uint32_t llama_file_type(GgmlType t) {
  switch (t) {
    case GgmlType::F32: return 0;   // LLAMA_FTYPE_ALL_F32
    case GgmlType::F16: return 1;   // LLAMA_FTYPE_MOSTLY_F16
    case GgmlType::Q4_0: return 2;  // LLAMA_FTYPE_MOSTLY_Q4_0
    case GgmlType::Q4_1: return 3;  // LLAMA_FTYPE_MOSTLY_Q4_1
    case GgmlType::Q8_0: return 7;  // LLAMA_FTYPE_MOSTLY_Q8_0
    case GgmlType::Q5_0: return 8;  // LLAMA_FTYPE_MOSTLY_Q5_0
    case GgmlType::Q5_1: return 9;  // LLAMA_FTYPE_MOSTLY_Q5_1
    case GgmlType::Q2_K: return 10; // LLAMA_FTYPE_MOSTLY_Q2_K
    case GgmlType::Q3_K: return 12; // LLAMA_FTYPE_MOSTLY_Q3_K_M (llama-quantize's Q3_K)
    case GgmlType::Q4_K: return 15; // LLAMA_FTYPE_MOSTLY_Q4_K_M (Q4_K)
    case GgmlType::Q5_K: return 17; // LLAMA_FTYPE_MOSTLY_Q5_K_M (Q5_K)
    case GgmlType::Q6_K: return 18; // LLAMA_FTYPE_MOSTLY_Q6_K
    case GgmlType::IQ4_NL: return 25;  // LLAMA_FTYPE_MOSTLY_IQ4_NL
    case GgmlType::IQ4_XS: return 30;  // LLAMA_FTYPE_MOSTLY_IQ4_XS
    case GgmlType::BF16: return 32; // LLAMA_FTYPE_MOSTLY_BF16
    default: break;
  }
  throw Error(std::string("no llama file type for ") + model::ggml_type_name(t) + ", supported: " + supported_output_types());
}

bool is_quantized_type(GgmlType t) { return model::ggml_block_size(t) > 1; }

const char* tensor_action_name(TensorAction a) {
  switch (a) {
    case TensorAction::copy: return "copy";
    case TensorAction::convert: return "convert";
    case TensorAction::quantize: return "quantize";
  }
  return "?";
}

uint64_t TensorPlan::rows() const {
  uint64_t r = 1;
  for (size_t i = 1; i < dims.size(); ++i) r *= dims[i];
  return r;
}

const TensorPlan* OutputPlan::find(std::string_view name) const {
  for (const auto& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

size_t OutputPlan::count(TensorAction a) const {
  return size_t(std::count_if(tensors.begin(), tensors.end(), [a](const TensorPlan& t) { return t.action == a; }));
}

size_t OutputPlan::count_fallbacks() const {
  return size_t(std::count_if(tensors.begin(), tensors.end(), [](const TensorPlan& t) { return t.fallback; }));
}

size_t OutputPlan::count_calibrated() const {
  return size_t(std::count_if(tensors.begin(), tensors.end(), [](const TensorPlan& t) { return t.calibrated; }));
}

bool is_expert_stack(std::string_view name) {
  if (name.substr(0, 4) != "blk.") return false;
  for (std::string_view s : {".ffn_gate_exps.weight", ".ffn_up_exps.weight", ".ffn_down_exps.weight"})
    if (ends_with(name, s)) return true;
  return false;
}

bool is_block_linear(std::string_view name) {
  if (name.substr(0, 4) != "blk.") return false;
  if (is_expert_stack(name)) return true;
  for (std::string_view s : {".attn_q.weight", ".attn_k.weight", ".attn_v.weight", ".attn_qkv.weight",
                             ".attn_output.weight", ".ffn_gate.weight", ".ffn_up.weight", ".ffn_down.weight"})
    if (ends_with(name, s)) return true;
  return false;
}

OutputPlan plan_output(const std::vector<PlanInput>& inputs, const PlanOptions& options) {
  if (!supported(options.type))
    throw Error(std::string("output type ") + model::ggml_type_name(options.type) + " is not supported yet, supported: " +
                supported_output_types());
  OutputPlan plan;
  plan.type = options.type;
  plan.file_type = options.mixture ? options.mixture->ftype : llama_file_type(options.type);
  const std::string req = options.mixture ? options.mixture->name : model::ggml_type_name(options.type);
  const bool quantized_request = is_quantized_type(options.type);
  // llama.cpp: without output.weight the embedding is tied and is treated as the output head.
  const bool has_output = std::any_of(inputs.begin(), inputs.end(), [](const PlanInput& in) { return is_output(in.name); });
  std::vector<std::string> rounded;
  // llama_tensor_get_type_impl: i_ffn_down of n_ffn_down, where llama-quantize visits the tensors in
  // layer order — the block number of "blk.N.", not the file's order (blk.10 is stored before blk.2).
  const size_t n_ffn_down = size_t(std::count_if(inputs.begin(), inputs.end(), [](const PlanInput& in) {
    return contains(in.name, "ffn_down") && kept_reason(in).empty();
  }));
  size_t i_ffn_down = 0;  // for names without a block number
  const size_t n_attention_wv = size_t(std::count_if(inputs.begin(), inputs.end(), [](const PlanInput& in) {
    return is_attn_v_like(in.name) && kept_reason(in).empty();
  }));
  size_t i_attention_wv = 0;

  for (const auto& in : inputs) {
    TensorPlan p;
    p.name = in.name;
    p.dims = in.dims;
    p.input_type = in.type;
    p.output_type = in.type;
    if (std::string kept = kept_reason(in); !kept.empty()) {
      p.reason = std::move(kept);
      plan.tensors.push_back(std::move(p));
      continue;
    }

    // llama_tensor_get_type: overrides first, then --tensor-type patterns, then the mixture's rules
    // (the output-head rule among them), else the requested type.
    const bool head = is_output(in.name) || (!has_output && is_token_embd(in.name));
    const std::string tied = head && !is_output(in.name) ? "no output.weight, so the token embedding is the output head: " : "";
    GgmlType t = options.type;
    std::string why = "the requested type " + req;
    const size_t layer_attn_v = is_attn_v_like(in.name) ? block_index(in.name).value_or(i_attention_wv++) : 0;
    const size_t layer_ffn_down = contains(in.name, "ffn_down") ? block_index(in.name).value_or(i_ffn_down++) : 0;
    const auto manual = std::find_if(options.tensor_types.begin(), options.tensor_types.end(),
                                     [&](const TensorTypeOverride& o) { return std::regex_search(in.name, std::regex(o.pattern)); });
    if (is_token_embd(in.name) && options.token_embedding_type) {
      t = *options.token_embedding_type;
      why = std::string("--token-embedding-type ") + model::ggml_type_name(t);
    } else if (head && options.output_tensor_type) {
      t = *options.output_tensor_type;
      why = tied + "--output-tensor-type " + model::ggml_type_name(t);
    } else if (!quantized_request) {
      // llama-quantize applies no rule to a float file type.
    } else if (manual != options.tensor_types.end()) {
      t = manual->type;
      why = "--tensor-type " + manual->pattern + "=" + model::ggml_type_name(t);
    } else if (head) {
      // llama-quantize: Q8_0 when -t is Q8_0 or the rows do not fit the requested blocks, else Q6_K.
      if (p.cols() % model::ggml_block_size(options.type) != 0) {
        t = GgmlType::Q8_0;
        why = tied + "output head in Q8_0, as llama-quantize does when its rows do not fit " + req + " blocks";
      } else if (options.type == GgmlType::Q8_0) {
        why = tied + "output head in Q8_0, as llama-quantize does for -t Q8_0";
      } else if (p.cols() % model::ggml_block_size(GgmlType::Q6_K) != 0) {
        t = GgmlType::Q8_0;
        why = tied + "output head in Q8_0: llama-quantize's Q6_K head falls back to Q8_0 when its rows are not a "
                     "multiple of 256";
      } else {
        t = GgmlType::Q6_K;
        why = tied + "output head in Q6_K, as llama-quantize does";
      }
    } else if (const auto r = moe8_rule(in.name, options)) {
      t = r->first;
      why = r->second;
    } else if (const auto r = options.mixture ? mixture_rule(*options.mixture, in.name,
                                                             is_attn_v_like(in.name) ? layer_attn_v : layer_ffn_down,
                                                             is_attn_v_like(in.name) ? n_attention_wv : n_ffn_down, options)
                                              : std::nullopt) {
      t = r->first;
      why = r->second;
    } else if (contains(in.name, "ffn_down")) {
      // llama-quantize with an imatrix guards the first n_layer/8 ffn_down of Q4_0/Q5_0 against "craziness"
      // by giving them the type with a minimum; vkquant always has calibration statistics, so it does too.
      const bool early = layer_ffn_down < n_ffn_down / 8;
      if (options.imatrix && early && (t == GgmlType::Q4_0 || t == GgmlType::Q5_0)) {
        t = t == GgmlType::Q4_0 ? GgmlType::Q4_1 : GgmlType::Q5_1;
        why = std::string("first n_layer/8 ffn_down in ") + model::ggml_type_name(t) +
              ", as llama-quantize does with an imatrix for " + req;
      }
    }

    // tensor_type_fallback: a super-block type whose rows do not fit takes llama-quantize's 32-block
    // substitute; a 32-block type that does not fit (or a substitute that does not) becomes F16.
    if (is_quantized_type(t) && p.cols() % model::ggml_block_size(t) != 0) {
      const GgmlType chosen = t;
      t = fallback_type(chosen);
      if (p.cols() % model::ggml_block_size(t) != 0) t = GgmlType::F16;
      why = in.name + ": " + std::to_string(p.cols()) + " columns is not a multiple of " +
            std::to_string(model::ggml_block_size(chosen)) + ", using " + model::ggml_type_name(t) + " instead of " +
            model::ggml_type_name(chosen);
      p.fallback = true;
      p.chosen_type = chosen;
    } else {
      p.chosen_type = t;
    }
    p.output_type = t;
    const std::string tname = model::ggml_type_name(t);

    // llama_model_quantize_impl: a tensor already of the target type is copied.
    if (t == in.type) {
      p.action = TensorAction::copy;
      p.reason = why + "; already " + tname + ", copied";
    } else if (is_quantized_type(in.type) && !options.allow_requantize) {
      throw Error("tensor '" + in.name + "' is already " + model::ggml_type_name(in.type) + "; requantizing to " + tname +
                  " is not supported without --allow-requantize (as llama-quantize)");
    } else if (!model::is_supported_for_reading(in.type)) {
      throw Error("tensor '" + in.name + "' has type " + model::ggml_type_name(in.type) + ", which vkquant cannot read to convert it to " + tname);
    } else if (!is_quantized_type(t)) {
      p.action = TensorAction::convert;
      p.reason = why;
    } else {
      p.action = TensorAction::quantize;
      p.calibrated = is_block_linear(in.name) || (head && options.imatrix);
      if (p.calibrated && head) {
        p.reason = why + "; output head, quantized with the calibration statistics of the final-norm outputs";
      } else if (p.calibrated) {
        p.reason = why + "; block linear, quantized with calibration statistics";
      } else if (options.imatrix && is_token_embd(in.name)) {
        p.reason = why + "; a lookup table has no Gram matrix: rounded to nearest (RTN) on the " + tname +
                   " grid (--calib-rounded-embedding: before calibration, so the calibrated blocks see it)";
        rounded.push_back(in.name);
      } else {
        p.reason = why + "; no calibration statistics exist for it (not a block linear): rounded to nearest (RTN) on the " +
                   tname + " grid";
        rounded.push_back(in.name);
      }
    }
    plan.tensors.push_back(std::move(p));
  }

  if (!rounded.empty()) {
    std::string names;
    for (const auto& n : rounded) names += (names.empty() ? "" : ", ") + n;
    plan.notes.push_back(names + ": rounded to nearest (RTN) on the grid, since calibration statistics exist only for the " +
                         (options.imatrix ? "block linears and the output head" : "block linears"));
  }
  const size_t fallbacks = size_t(std::count_if(plan.tensors.begin(), plan.tensors.end(), [](const TensorPlan& t) { return t.fallback; }));
  if (fallbacks > 0) {
    std::map<std::string, size_t> pairs;  // "Q4_K -> Q5_0" -> count
    for (const auto& t : plan.tensors)
      if (t.fallback)
        ++pairs[std::string(model::ggml_type_name(t.chosen_type)) + " -> " + model::ggml_type_name(t.output_type)];
    std::string list;
    for (const auto& [pair, count] : pairs) list += (list.empty() ? "" : ", ") + std::to_string(count) + " x " + pair;
    plan.notes.push_back(std::to_string(fallbacks) + " tensor(s) fell back to another type because their rows do not fit " +
                         "the chosen type's blocks, as llama-quantize does: " + list);
  }
  return plan;
}

OutputPlan plan_output(const model::GgufFile& input, const PlanOptions& options) {
  std::vector<PlanInput> inputs;
  inputs.reserve(input.tensors().size());
  for (const auto& t : input.tensors()) inputs.push_back({t.name, t.dims, t.type});
  return plan_output(inputs, options);
}

std::string format_plan(const OutputPlan& plan) {
  std::ostringstream s;
  s << "output type " << model::ggml_type_name(plan.type) << " (general.file_type " << plan.file_type << ")\n";
  for (const auto& t : plan.tensors) {
    s << t.name << "  " << model::ggml_type_name(t.input_type) << " -> " << model::ggml_type_name(t.output_type) << "  "
      << tensor_action_name(t.action);
    if (t.action == TensorAction::quantize) s << (t.calibrated ? " (calibrated)" : " (RTN)");
    s << ": " << t.reason << "\n";
  }
  for (const auto& n : plan.notes) s << "note: " << n << "\n";
  return s.str();
}

}  // namespace vkq::io
