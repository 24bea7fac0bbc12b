#include "io/output_plan.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <sstream>

#include "model/gguf.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::io {
namespace {

using model::GgmlType;

// The writable types, in the order error messages list them.
constexpr std::array<GgmlType, 8> kSupported = {GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0,
                                                GgmlType::Q5_1, GgmlType::F16,  GgmlType::BF16, GgmlType::F32};

// llama-quantize's mixture names that are not single ggml type names (tools/quantize/quantize.cpp).
constexpr std::array<std::string_view, 20> kUnsupportedMixtures = {
    "Q2_K_S", "Q3_K_S", "Q3_K_M", "Q3_K_L", "Q4_K_S", "Q4_K_M", "Q5_K_S", "Q5_K_M", "IQ2_M", "IQ3_XS",
    "IQ3_M",  "MXFP4_MOE", "COPY", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "IQ1_M", "IQ2_S"};

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
  if (nd > 2) return std::to_string(nd) + "-D tensor: vkquant quantizes 2-D weights only (llama-quantize would quantize it); kept as " + type;
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

}  // namespace

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

size_t OutputPlan::count_calibrated() const {
  return size_t(std::count_if(tensors.begin(), tensors.end(), [](const TensorPlan& t) { return t.calibrated; }));
}

bool is_block_linear(std::string_view name) {
  if (name.substr(0, 4) != "blk.") return false;
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
  plan.file_type = llama_file_type(options.type);
  const std::string req = model::ggml_type_name(options.type);
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

    // llama_tensor_get_type: overrides first, then the output-head rule, else the requested type.
    const bool head = is_output(in.name) || (!has_output && is_token_embd(in.name));
    const std::string tied = head && !is_output(in.name) ? "no output.weight, so the token embedding is the output head: " : "";
    GgmlType t = options.type;
    std::string why = "the requested type " + req;
    if (is_token_embd(in.name) && options.token_embedding_type) {
      t = *options.token_embedding_type;
      why = std::string("--token-embedding-type ") + model::ggml_type_name(t);
    } else if (head && options.output_tensor_type) {
      t = *options.output_tensor_type;
      why = tied + "--output-tensor-type " + model::ggml_type_name(t);
    } else if (head && quantized_request) {
      // llama-quantize: Q8_0 when -t is Q8_0 or the rows do not fit the requested blocks, else Q6_K.
      t = GgmlType::Q8_0;
      if (options.type == GgmlType::Q8_0)
        why = tied + "output head in Q8_0, as llama-quantize does for -t Q8_0";
      else if (p.cols() % model::ggml_block_size(options.type) != 0)
        why = tied + "output head in Q8_0, as llama-quantize does when its rows do not fit " + req + " blocks";
      else
        why = tied + "output head in higher precision: llama-quantize uses Q6_K, which vkquant cannot write yet, so Q8_0";
    } else if (contains(in.name, "ffn_down")) {
      // llama-quantize with an imatrix guards the first n_layer/8 ffn_down of Q4_0/Q5_0 against "craziness"
      // by giving them the type with a minimum; vkquant always has calibration statistics, so it does too.
      const size_t layer = block_index(in.name).value_or(i_ffn_down);
      ++i_ffn_down;
      const bool early = layer < n_ffn_down / 8;
      if (options.imatrix && early && (t == GgmlType::Q4_0 || t == GgmlType::Q5_0)) {
        t = t == GgmlType::Q4_0 ? GgmlType::Q4_1 : GgmlType::Q5_1;
        why = std::string("first n_layer/8 ffn_down in ") + model::ggml_type_name(t) +
              ", as llama-quantize does with an imatrix for " + req;
      }
    }

    // tensor_type_fallback: a 32-block type whose rows do not fit becomes F16 (llama.cpp's last resort,
    // reached directly since vkquant writes no k-quant whose legacy substitute could be tried first).
    if (is_quantized_type(t) && p.cols() % model::ggml_block_size(t) != 0) {
      why = in.name + ": " + std::to_string(p.cols()) + " columns is not a multiple of " +
            std::to_string(model::ggml_block_size(t)) + ", using F16 instead of " + model::ggml_type_name(t);
      t = GgmlType::F16;
      p.fallback = true;
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
  if (fallbacks > 0)
    plan.notes.push_back(std::to_string(fallbacks) + " tensor(s) written as F16 because their rows do not fit the type's blocks");
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
