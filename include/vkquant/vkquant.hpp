// vkquant public C++ API. Everything a program embedding vkquant needs is declared here;
// nothing under src/ is public. Errors are reported as vkq::Error exceptions.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#if defined(_WIN32)
#define VKQ_API __declspec(dllexport)
#else
#define VKQ_API __attribute__((visibility("default")))
#endif

namespace vkq {

// Every failure vkquant reports: the message names the operation and the file/tensor/option.
class VKQ_API Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

VKQ_API const char* version();

// One Vulkan physical device and what the probe found on it.
struct DeviceSummary {
  uint32_t index = 0;
  std::string name;
  std::string type;  // "discrete", "integrated", "virtual", "cpu", "other"
  std::string driver;
  std::string api_version;
  uint32_t subgroup_size = 0, min_subgroup_size = 0, max_subgroup_size = 0;
  bool subgroup_size_control = false, compute_full_subgroups = false;
  uint32_t max_shared_memory = 0;
  bool fp16 = false, int8 = false, fp64 = false, cooperative_matrix = false;
  uint64_t device_local_bytes = 0;
  uint64_t budget_bytes = 0;  // 0 when VK_EXT_memory_budget is absent
  uint64_t max_storage_buffer_range = 0;  // the most one kernel binding spans: larger tensors go in row ranges
  uint64_t max_buffer_size = 0;
  uint32_t max_workgroup_count[3] = {0, 0, 0};
  bool chosen = false;        // the device a run would use by default / with the given selector
};

// Lists devices; `selector` (index or name substring, "" = default, VKQ_DEVICE honoured)
// marks the chosen one.
VKQ_API std::vector<DeviceSummary> list_devices(const std::string& selector = "");
VKQ_API std::string devices_json(const std::vector<DeviceSummary>& devices);

// One row of `vkquant selftest`: a kernel compared against its float64 reference.
struct SelftestRow {
  std::string kernel;
  std::string shape;
  double max_error = 0;   // the measured error, in the metric named by `metric`
  double tolerance = 0;
  std::string metric;
  double millis = 0;      // GPU time of the dispatches (timestamps), for information only
  bool passed = false;
  std::string message;    // why it failed, when it did
};

struct SelftestOptions {
  std::string device;     // selector, as for list_devices
  bool validation = false;  // enable the Khronos validation layer if installed
  uint64_t seed = 0;        // 0 = fresh random seed (printed in the results)
};

struct SelftestReport {
  std::string device;
  uint64_t seed = 0;
  std::vector<SelftestRow> rows;
  uint64_t validation_messages = 0;
  bool all_passed() const {
    if (validation_messages) return false;
    for (const auto& r : rows)
      if (!r.passed) return false;
    return !rows.empty();
  }
};

VKQ_API SelftestReport run_selftest(const SelftestOptions& options);

// Progress of a long run, reported to the caller's callback (from the calling thread).
struct ProgressEvent {
  std::string stage;       // "load", "tokenize", "calibrate", "quantize", "write", "evaluate", "done"
  std::string item;        // what is being worked on, e.g. "blk.3.attn_q.weight" or "window 12/40"
  uint32_t step = 0, steps = 0;  // position within the stage (e.g. block 3 of 30)
  double fraction = 0;     // of the whole run, 0..1
  double elapsed_seconds = 0;
  double eta_seconds = -1; // remaining, estimated from the work done so far; -1 while unknown
  std::string message;     // a notice worth showing (fallbacks, damping retries, skipped tensors)
};
using ProgressCallback = std::function<void(const ProgressEvent&)>;

// Set to true from any thread to stop a run; it ends with vkq::Cancelled and writes nothing.
using CancelFlag = std::atomic<bool>;

class VKQ_API Cancelled : public Error {
 public:
  Cancelled() : Error("cancelled: no output was written") {}
};

// ---- evaluation -------------------------------------------------------------------------

// How the text is cut and scored. Windows: ALGORITHMS.md §6 — non-overlapping windows of ctx tokens,
// every token after the first scored. Llama: llama-perplexity's protocol — floor(tokens / ctx) chunks,
// the first token of each replaced by BOS (when the model adds one), only the second half scored —
// so the figure is directly comparable with llama.cpp's "Final estimate: PPL".
enum class PerplexityProtocol { Windows, Llama };

// Device time of one kernel over a run (options `profile`): GPU timestamps written before and after every
// dispatch and transfer. Empty when not asked for or when the device's queue has no timestamps.
struct KernelTime {
  std::string kernel;          // shaders/<kernel>.comp; "copy" and "fill" are transfers
  uint64_t dispatches = 0;
  double device_seconds = 0;
};

struct PerplexityOptions {
  std::string model_path;      // GGUF (any type vkquant reads, including its own output), a Hugging Face
                               // checkpoint folder, or llama2.c .bin
  std::string tokenizer_path;  // llama2.c tokenizer (tok512.bin) for a .bin model; GGUF carries its own
  std::string text_path;       // UTF-8 text
  double text_begin = 0.0, text_end = 1.0;  // the byte range of the text to use, as fractions
  uint32_t ctx = 0;            // window length; 0 = the model's context capped at 2048 (Llama: 512)
  uint32_t max_windows = 0;    // 0 = all (Llama: llama-perplexity's --chunks)
  PerplexityProtocol protocol = PerplexityProtocol::Windows;
  std::string device;          // selector, as for list_devices
  bool profile = false;        // time every kernel on the device (KernelTime); costs a little time
};

struct PerplexityResult {
  double perplexity = 0;
  double mean_nll = 0;         // nats per predicted token
  uint64_t windows = 0;
  uint64_t tokens = 0;         // predicted (scored) tokens
  uint32_t ctx = 0;
  std::string device;
  double seconds = 0;
  std::vector<KernelTime> profile;  // the most device time first (options.profile)
};

// ---- quantization ------------------------------------------------------------------------

// Which calibration sequences a run takes from its text. Sampled: calib_seqs windows of calib_len − 1
// tokens chosen with the seed, each after a BOS. Llama: llama-imatrix's chunks — the first calib_seqs
// chunks of calib_len tokens of the text (tokenized with the model's add_bos choice), BOS written over
// each chunk's first token — so vkquant and llama-imatrix calibrate on exactly the same tokens.
enum class CalibrationProtocol { Sampled, Llama };

struct QuantizeOptions {
  std::string model_path;       // GGUF with F32/F16/BF16 weights, a Hugging Face checkpoint folder
                                // (safetensors), or a llama2.c .bin (with tokenizer_path)
  std::string tokenizer_path;   // llama2.c tokenizer for a .bin model
  std::string calib_path;       // calibration text (UTF-8)
  std::string output_path;      // OUT.gguf; "" only with a generic grid type (evaluation only)
  bool force = false;           // overwrite an existing OUT (and OUT.json)

  // Output type: a llama-quantize name (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, F16, BF16, F32), or a generic
  // integer grid "INT<bits>[g<group>][s]" (e.g. INT3g32) that GGUF cannot store: evaluation only.
  std::string type = "Q4_0";
  std::string token_embedding_type;  // override (llama-quantize's --token-embedding-type)
  std::string output_tensor_type;    // override (--output-tensor-type)
  std::vector<std::string> tensor_types;  // "PATTERN=TYPE" overrides (llama-quantize's --tensor-type), first match wins
  bool allow_requantize = false;     // take an already-quantized model's dequantized weights as the reference

  std::string method = "gptq";  // rtn | gptq | beam
  uint32_t beam_width = 4;      // K, for method beam
  double damp = 0.01;           // δ, relative to mean(diag H)
  double lambda = 0;            // SARQC strength λ (relative to mean(diag H)); 0 = plain GPTQ
  std::string saliency = "act"; // unit | hdiag | act | act2 (used when lambda > 0)
  std::string alpha_mode = "fixed";  // fixed | sampled (Beta(5,5) folded, per calibration sequence)
  double alpha = 0;             // fixed α: 0 = GPTQ (symmetric), 0.25 = GPTAQ setting
  double alpha_beta = 5;        // sampled α ~ Beta(b, b) folded to [0, 0.5]; b ≥ 1 (5: mean 0.377, 1: uniform)
  bool act_order = true;
  bool static_groups = true;
  uint32_t block = 128;         // B, columns per error-feedback block
  bool clip_search = false;     // per-group clip search scored with H̃ (§3 GS)
  // Per-group scale search (§3 GS): ranges from 0.70× to 1.15× min-max, each also refitted to its codes by
  // H̃-weighted least squares (scale, and Q4_1/Q5_1's min), the stored values scored with H̃; the static group
  // parameters of every calibrated method (rtn included). On by default: it beat min-max and the clip search
  // on SmolLM2-135M and stories260K (docs/quality.md). A superset of clip_search's candidates: set it false to
  // use clip_search (both true is an error).
  bool scale_search = true;
  // K types (Q2_K…Q6_K, IQ4_XS, IQ4_NL), methods gptq/beam: how many times the super-block parameters are refitted
  // from the swept codes (H̃-diagonal least squares) and the tensor swept again; each row keeps its better result,
  // so a refit never raises a row's loss. 0 turns it off (docs/kquants.md has what it buys).
  uint32_t k_refits = 1;
  // Legacy types (Q8_0…Q4_0) and INT grids, methods gptq/beam: how many times each row's group scales (and
  // Q4_1/Q5_1 mins) are refitted jointly from the swept codes — the least-squares fit under H̃ with every
  // cross-group term — and the tensor swept again; each row keeps its better result. 0 = off.
  uint32_t group_refits = 0;
  // Mixture-of-experts models: an expert routed fewer calibration tokens than this is solved with its block's
  // pooled Gram matrix (every expert's routed inputs together) instead of its own; 0 = its own whenever it has a token.
  uint32_t min_expert_tokens = 16;

  uint32_t calib_seqs = 128;    // sequences of calib_len tokens (capped at the model's context)
  uint32_t calib_len = 2048;
  double calib_begin = 0.0, calib_end = 1.0;  // part of the calibration text to use (fractions)
  CalibrationProtocol calib_protocol = CalibrationProtocol::Sampled;
  // The calibration chain embeds with the embedding already rounded to its output type (so X_q carries the
  // embedding's error from block 0 on). Off by default: on stories260K it helped one setting and hurt two
  // (docs/quality.md). Either way the written file, and the in-process evaluation, hold the rounded table.
  bool calib_rounded_embedding = false;
  uint64_t seed = 0;            // calibration window choice and sampled α
  uint32_t chunk_tokens = 8192; // tokens per forward chunk on the device
  // The most device memory the run's buffers may hold at once (0: the device heap's budget, from
  // VK_EXT_memory_budget when the driver reports one). Under it, a large token embedding stays on the host,
  // solves go in smaller row tiles, and a chunk or tile that still does not fit is split and retried.
  uint64_t max_device_memory = 0;
  // Load the model, plan the output and tokenize the calibration text, then stop: QuantizeResult::memory says
  // what the run would need, and nothing is written.
  bool dry_run = false;
  // After every block (and the output head) the run saves its progress in OUT.vkq-resume/ beside the output,
  // removed once OUT is complete; `resume` continues from it, giving the same bytes an uninterrupted run
  // gives. A saved state from other inputs or settings is refused. Runs with eval_text save none.
  bool checkpoint = true;
  bool resume = false;
  // How the calibration activations are held on the host between blocks: "f32" (default) or "f16"
  // (half the host memory; each value rounded to fp16 once per block).
  std::string activations = "f32";

  std::string device;
  bool profile = false;         // time every kernel on the device (QuantizeResult::profile, the report)
  bool write_report = true;     // OUT.json beside the output
  // Also write the calibration statistics as a llama.cpp imatrix (GGUF imatrix format): for every
  // calibrated tensor the sum of squared input activations over the calibration tokens, so that
  // `llama-quantize --imatrix FILE` can reuse this calibration. Not with method rtn (no statistics).
  std::string imatrix_out_path;

  // Optional evaluation of the quantized model in the same run (needed for generic grids).
  std::string eval_text_path;
  double eval_begin = 0.0, eval_end = 1.0;
  uint32_t eval_ctx = 0;
  uint32_t eval_max_windows = 0;
  PerplexityProtocol eval_protocol = PerplexityProtocol::Windows;
};

struct TensorResult {
  std::string name;
  std::string type;             // output type
  std::string method;           // gptq, rtn (no calibration statistics), copy, convert
  double loss = -1;             // tr((T − Q) H (T − Q)ᵀ)/rows for calibrated tensors, else -1
  // With α (fixed > 0 or sampled): SNRQ's closed-form α* = ⟨Q − W, W D⟩ / ⟨W D H̃⁻¹, W D⟩ of the result,
  // clipped to [0, 1] (the α this tensor's solution would prefer); -1 otherwise.
  double alpha_star = -1;
  uint32_t rows = 0, cols = 0;
  double seconds = 0;
  std::string note;             // fallback reason
  std::vector<std::string> damping_retries;
  int64_t k_refit_rows = -1;    // K types, gptq/beam: rows that kept a refit of their super-block scales; else -1
  int64_t group_refit_rows = -1;  // other types with group_refits > 0: rows that kept a refit of their group scales; else -1
  // A mixture-of-experts stack (blk.N.ffn_*_exps): calibration tokens routed to each expert, and the experts that
  // had too few of them and were solved with the block's pooled statistics; both empty for other tensors.
  std::vector<uint64_t> expert_tokens;
  std::vector<uint32_t> pooled_experts;
};

// What a quantize run needs (estimated before it starts; docs/usage.md "Device memory" gives the formula):
// device memory by phase, the largest being the peak, and host memory by holder.
struct MemoryNeeds {
  uint64_t device_stage = 0, device_embedding = 0, device_head = 0, device_peak = 0;
  uint64_t host_activations = 0;  // the calibration tokens' activations (and saved attention outputs) per chain
  uint64_t host_embedding = 0;    // a token embedding gathered on the host
  uint64_t host_output = 0;       // the packed quantized tensors until the file is written
  uint64_t host_peak = 0;         // the above plus the largest tensor's working copies (the input is memory-mapped)
  bool embedding_on_host = false;
  uint64_t row_tile_bytes = 0;
};

struct QuantizeResult {
  std::string output_path, report_path;  // empty when not written
  std::string device;
  std::vector<TensorResult> tensors;
  std::vector<std::string> notes;
  double seconds = 0;
  uint64_t peak_device_bytes = 0;
  uint64_t peak_host_bytes = 0;  // the process's peak resident memory (RSS) by the end of the run
  std::vector<std::string> memory_retries;  // each chunk split or row-tile halving after running out of device memory
  MemoryNeeds memory;            // the estimate made before the run started
  bool dry_run = false;          // options.dry_run: nothing ran and nothing was written
  uint64_t calibration_tokens = 0;
  bool evaluated = false;
  PerplexityResult evaluation;  // of the quantized model, when eval_text_path was given
  std::vector<KernelTime> profile;  // the whole run, evaluation included; the most device time first (options.profile)
};

// ---- conversion -------------------------------------------------------------------------

// A Hugging Face checkpoint folder (config.json, tokenizer.json or tokenizer.model, model.safetensors
// or shards with model.safetensors.index.json) written as an unquantized GGUF with the tensors and
// metadata llama.cpp's convert_hf_to_gguf.py writes (docs/huggingface.md lists the differences).
// quantize() and perplexity() also take such a folder as model_path directly.
struct ConvertOptions {
  std::string model_path;   // the checkpoint folder
  std::string output_path;  // OUT.gguf, written as OUT.gguf.partial and renamed when complete
  std::string type = "auto";  // matrices: auto (BF16 for a BF16 checkpoint, else F16), F32, F16 or BF16
  bool force = false;       // overwrite an existing output_path
};

struct ConvertResult {
  std::string output_path;
  std::string architecture;  // general.architecture
  uint64_t tensors = 0, bytes = 0;
  double seconds = 0;
};

VKQ_API ConvertResult convert(const ConvertOptions& options, const ProgressCallback& progress = {},
                              const CancelFlag* cancel = nullptr);

// ALGORITHMS.md §6: non-overlapping windows of ctx tokens, every token after the first scored.
VKQ_API PerplexityResult perplexity(const PerplexityOptions& options, const ProgressCallback& progress = {},
                                    const CancelFlag* cancel = nullptr);

// Quantizes a model with calibration (true-sequential, block by block) and writes OUT.partial,
// renamed to OUT only when complete. Never overwrites an existing OUT without options.force.
VKQ_API QuantizeResult quantize(const QuantizeOptions& options, const ProgressCallback& progress = {},
                                const CancelFlag* cancel = nullptr);

}  // namespace vkq
