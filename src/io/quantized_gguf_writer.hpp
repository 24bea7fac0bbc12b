// The output GGUF of `vkquant quantize`: the input's metadata in its order, general.file_type and
// general.quantization_version set as llama-quantize sets them, vkquant.* keys recording how the
// file was made, and every tensor in the input's order with its planned type. Tensors are then
// given in that order — as codes with per-block parameters, as floats, or "as in the input" — and
// stream through GgufWriter to OUT.partial, which becomes OUT only when the file is complete.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "io/output_plan.hpp"

namespace vkq::model {
class GgufFile;
}

namespace vkq::io {

class GgufWriter;

// How a run was configured (plain data, standard types): written as vkquant.* keys and into the
// run report. Strings hold the option spellings ("gptq", "fixed", "hdiag").
struct RunSettings {
  std::string vkquant_version;   // the caller passes vkq::version() (api sits above io in the DAG)
  std::string method = "gptq";   // rtn | gptq | beam
  std::string type = "Q4_0";     // the requested -t
  int bits = 0;                  // generic INT grid only; 0 for GGUF types (not written)
  uint64_t group_size = 0;       // generic INT grid only
  double lambda = 0;
  std::string alpha_mode = "fixed";  // fixed | sampled
  double alpha = 0;
  double alpha_beta = 0;             // sampled α's Beta(b, b); 0 when α is fixed
  std::string saliency = "unit";     // unit | hdiag | act | act2
  double damp = 0.01;
  bool act_order = true;
  bool static_groups = true;
  uint64_t block = 128;
  uint64_t beam_width = 1;
  std::string scale_search = "minmax";  // minmax | clip | search: how static group parameters were chosen
  uint64_t k_refits = 0;         // K types: refits of the super-block scales from swept codes (the report only)
  uint64_t group_refits = 0;     // other types: joint refits of each row's group scales from swept codes
  uint64_t min_expert_tokens = 0;  // MoE: fewer routed tokens and an expert takes its block's pooled statistics
  std::string calib_file;        // the calibration text's file name (no directory)
  std::string calib_range = "0:1";
  std::string calib_protocol = "sampled";  // sampled | llama (llama-imatrix's chunks)
  bool calib_rounded_embedding = false;    // the calibration chain embedded with the rounded table
  std::string activations = "f32";         // host storage of the calibration activations between blocks
  uint64_t calib_seqs = 0;       // sequences actually used
  uint64_t calib_seq_len = 0;    // tokens per sequence, after the context cap
  uint64_t seed = 0;
};

// GGML_QNT_VERSION, which llama-quantize writes as general.quantization_version.
inline constexpr uint32_t kGgmlQuantizationVersion = 2;

class QuantizedGgufWriter {
 public:
  // Declares metadata and every tensor and writes the header. `input` must outlive the writer
  // (copies read its mapping); the plan (copied) must list exactly the input's tensors in order.
  // vkq::Error when OUT exists and `force` is false (before any work) or the plan does not match.
  QuantizedGgufWriter(const model::GgufFile& input, const OutputPlan& plan, const RunSettings& settings,
                      const std::string& path, bool force = false);
  QuantizedGgufWriter(const QuantizedGgufWriter&) = delete;
  QuantizedGgufWriter& operator=(const QuantizedGgufWriter&) = delete;
  ~QuantizedGgufWriter();  // unless finished, OUT.partial is removed and OUT is untouched

  // The tensor expected next (nullptr when all are written).
  const TensorPlan* next() const;

  // A planned super-block `quantize` tensor (Q2_K … Q6_K): per (row, 256-column super-block) the
  // fp16-exact d and dmin and 16 quantized sub-block scales and mins (Q4_K/Q5_K use the first 8),
  // codes numbered as model::pack_superblock's.
  void write_superblocks(std::string_view name, std::span<const int32_t> codes, std::span<const float> d,
                         std::span<const float> dmin, std::span<const int32_t> scales, std::span<const int32_t> mins);
  // A planned `quantize` tensor: codes row-major (rows × cols, in the type's code range: Q8_0
  // [−127, 127], Q4_0/Q4_1 [0, 15], Q5_0/Q5_1 [0, 31]); d (and m for Q4_1/Q5_1) one per 32-column
  // block, rows × cols/32, already fp16-rounded when the codes were computed against them.
  void write_quantized(std::string_view name, std::span<const int32_t> codes, std::span<const float> d,
                       std::span<const float> m = {});
  // A planned `quantize` tensor already packed (io/tensor_packing.hpp): rows × its type's row size bytes.
  void write_packed(std::string_view name, std::span<const uint8_t> bytes);
  // A planned `convert` or `copy` tensor whose output type is F32/F16/BF16, from fp32 values
  // (rows × cols): e.g. a norm weight changed by scale folding.
  void write_float(std::string_view name, std::span<const float> values);
  // Any tensor but a `quantize` one, from the input: `copy` takes the bytes, `convert` reads fp32
  // and encodes the output type.
  void write_from_input(std::string_view name);

  // vkq::Error unless every tensor was written; then commits OUT.
  void finish();

  const std::string& path() const { return path_; }

 private:
  const TensorPlan& expect(std::string_view name, const char* operation);
  void push(const TensorPlan& t, const void* data, size_t n);

  const model::GgufFile& input_;
  OutputPlan plan_;
  std::string path_;
  std::unique_ptr<GgufWriter> writer_;
  size_t next_ = 0;
};

}  // namespace vkq::io
