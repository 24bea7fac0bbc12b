// What `vkquant quantize -t TYPE` writes for each tensor of the input: keep its bytes, convert it
// to a float type, or quantize it on a grid (with calibration statistics, or by plain rounding).
// The rules mirror llama-quantize (llama.cpp src/llama-quant.cpp: tensor_allows_quantization,
// llama_tensor_get_type, tensor_type_fallback, llama_model_quantize_impl); each rule in
// output_plan.cpp names the llama.cpp behaviour it follows and says where vkquant differs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model/ggml_types.hpp"

namespace vkq::model {
class GgufFile;
}

namespace vkq::io {

// The tensor types vkquant can write, as llama-quantize names them (case-insensitive), or llama's
// numeric LLAMA_FTYPE id ("2" = Q4_0). i-quant names are a vkq::Error "... is not supported yet,
// supported: ..."; unknown names an error listing the supported ones.
model::GgmlType parse_output_type(std::string_view name);

// A llama-quantize file type that is a mixture of tensor types (tools/quantize: Q4_K_M, Q3_K_S, …,
// with the aliases Q3_K/Q4_K/Q5_K for the _M mixtures and Q2_K, Q6_K as mixtures too).
struct OutputMixture {
  std::string name;                               // as llama-quantize spells it, e.g. "Q4_K_M"
  uint32_t ftype = 0;                             // LLAMA_FTYPE_MOSTLY_*: general.file_type
  model::GgmlType base = model::GgmlType::Q4_K;   // the type of every tensor no rule changes
};
// The mixture of this name (case-insensitive) or LLAMA_FTYPE id, or nullopt.
std::optional<OutputMixture> find_mixture(std::string_view name);
// "Q2_K, Q2_K_S, Q3_K_S, Q3_K_M, Q3_K_L, Q4_K_S, Q4_K_M, Q5_K_S, Q5_K_M, Q6_K".
std::string supported_mixtures();
// As parse_output_type, for --token-embedding-type / --output-tensor-type (ggml type names).
model::GgmlType parse_tensor_type(std::string_view name, std::string_view option);
std::string supported_output_types();  // "Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, F16, BF16, F32"

// llama.h's LLAMA_FTYPE for a file mostly of type t: ALL_F32 = 0, MOSTLY_F16 = 1, Q4_0 = 2,
// Q4_1 = 3, Q8_0 = 7, Q5_0 = 8, Q5_1 = 9, BF16 = 32 — the value of general.file_type.
uint32_t llama_file_type(model::GgmlType t);

bool is_quantized_type(model::GgmlType t);  // a block type (Q8_0 … Q5_1, k-quants, …)

// llama-quantize's --tensor-type PATTERN=TYPE: tensors whose name contains a match of the regular
// expression (std::regex_search) get TYPE; the first matching pattern wins, and the mixture's rules are
// skipped for it. vkq::Error for a bad regular expression or type, naming the option.
struct TensorTypeOverride {
  std::string pattern;
  model::GgmlType type = model::GgmlType::Q8_0;
};
TensorTypeOverride parse_tensor_type_override(std::string_view spec);  // "PATTERN=TYPE"

struct PlanOptions {
  model::GgmlType type = model::GgmlType::Q4_0;            // -t (a mixture's base type)
  std::optional<model::GgmlType> token_embedding_type;     // --token-embedding-type
  std::optional<model::GgmlType> output_tensor_type;       // --output-tensor-type
  bool allow_requantize = false;  // --allow-requantize: quantized inputs count as their dequantized values
  // Calibration statistics exist, as when llama-quantize is given --imatrix: its imatrix-only rules apply
  // (the first n_layer/8 ffn_down of a Q4_0/Q5_0 file become Q4_1/Q5_1), and the output head (or the
  // tied embedding serving as it) is calibrated like a block linear, on the final-norm outputs.
  bool imatrix = false;
  std::optional<OutputMixture> mixture;                    // -t Q4_K_M etc.: llama-quantize's per-tensor rules
  std::vector<TensorTypeOverride> tensor_types;            // --tensor-type, in the order given
  uint32_t n_gqa = 1;                                      // n_head / n_head_kv (Q2_K's and IQ4's attn_v rules)
  bool is_70b = false;  // llama-quantize's LLM_TYPE_70B (80 layers; llama with GQA, qwen2): attn_v raised to Q5_K
  uint32_t n_expert = 0;  // experts per MoE block: with 8 (Mixtral's count) attn_v and attn_k go to Q8_0, as llama-quantize does
};

// One input tensor as the planner sees it (dims in GGUF order, innermost first).
struct PlanInput {
  std::string name;
  std::vector<uint64_t> dims;
  model::GgmlType type = model::GgmlType::F32;
};

enum class TensorAction {
  copy,      // bytes as in the input (same type)
  convert,   // to a float type (F32, F16, BF16)
  quantize,  // codes on a grid of output_type
};

const char* tensor_action_name(TensorAction a);  // "copy", "convert", "quantize"

struct TensorPlan {
  std::string name;
  std::vector<uint64_t> dims;
  model::GgmlType input_type = model::GgmlType::F32;
  model::GgmlType output_type = model::GgmlType::F32;
  TensorAction action = TensorAction::copy;
  bool calibrated = false;  // quantize with calibration statistics (a block linear); else RTN
  bool fallback = false;    // output_type differs from the type the rules chose, for its shape (llama-quantize's fallback)
  model::GgmlType chosen_type = model::GgmlType::F32;  // the type the rules chose (= output_type unless fallback)
  std::string reason;       // human-readable: why this type and action
  uint64_t cols() const { return dims.empty() ? 1 : dims[0]; }
  uint64_t rows() const;    // product of dims[1..]
};

struct OutputPlan {
  model::GgmlType type = model::GgmlType::Q4_0;  // the requested -t
  uint32_t file_type = 0;                         // general.file_type
  std::vector<TensorPlan> tensors;                // input order
  std::vector<std::string> notes;                 // plan-wide remarks (RTN tensors, substitutions)

  const TensorPlan* find(std::string_view name) const;  // nullptr when absent
  size_t count(TensorAction a) const;
  size_t count_calibrated() const;
  size_t count_fallbacks() const;
};

// The block linears that calibration covers: attn_q/k/v/qkv/output, ffn_gate/up/down.
bool is_block_linear(std::string_view name);
// blk.N.ffn_{gate,up,down}_exps.weight: a mixture-of-experts block's experts, one 3-D tensor (a block linear
// per expert, stacked), quantized and calibrated like the 2-D linears.
bool is_expert_stack(std::string_view name);

// vkq::Error when a tensor needs converting/quantizing from a type that cannot be read, or from a
// quantized type (llama-quantize refuses requantizing without --allow-requantize).
OutputPlan plan_output(const std::vector<PlanInput>& inputs, const PlanOptions& options);
OutputPlan plan_output(const model::GgufFile& input, const PlanOptions& options);

// One line per tensor ("name  F32 -> Q4_0  quantize (calibrated): reason"), then the notes.
std::string format_plan(const OutputPlan& plan);

}  // namespace vkq::io
