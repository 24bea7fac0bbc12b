#include "calibrate/quantize_run.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <numeric>
#include <optional>
#include <sys/resource.h>

#include "calibrate/calibration_data.hpp"
#include "calibrate/kernel_times.hpp"
#include "calibrate/memory_estimate.hpp"
#include "calibrate/model_source.hpp"
#include "calibrate/perplexity_eval.hpp"
#include "calibrate/progress_tracker.hpp"
#include "calibrate/quantize_settings.hpp"
#include "calibrate/run_checkpoint.hpp"
#include "calibrate/run_report.hpp"
#include "calibrate/test_kill_point.hpp"
#include "common/float16.hpp"
#include "forward/transformer_model.hpp"
#include "io/imatrix_writer.hpp"
#include "io/output_plan.hpp"
#include "io/quantized_gguf_writer.hpp"
#include "io/tensor_packing.hpp"
#include "kernels/cross_gram.hpp"
#include "kernels/gram.hpp"
#include "kernels/rtn.hpp"
#include "model/gguf.hpp"
#include "quant/awq_search.hpp"
#include "quant/hessian_factor.hpp"
#include "quant/layer_quantizer.hpp"
#include "reference/alpha_sampling.hpp"
#include "reference/grid.hpp"
#include "reference/superblock.hpp"
#include "vk/context.hpp"
#include "vk/error.hpp"

namespace vkq::calibrate {

namespace {

using forward::LinearGroup;
using Clock = std::chrono::steady_clock;

// Rows that kept a refit, for the report: K types' super-block refits, or the other types' group refits.
void set_refit_rows(const quant::LayerQuantOutput& out, bool group_refits, TensorResult& r) {
  if (r.method != "gptq" && r.method != "beam") return;
  if (!out.superblocks.empty()) r.k_refit_rows = int64_t(out.refit_rows);
  else if (group_refits) r.group_refit_rows = int64_t(out.refit_rows);
}

struct Stage {
  LinearGroup group;
  std::vector<std::string> linears;  // TransformerModel names
};

// A fused tensor (phi3's attn_qkv, and ffn_up holding gate | up) is one linear of its stage.
std::vector<Stage> stages(const model::LlamaConfig& c) {
  return {{LinearGroup::AttnQkv, c.fused_qkv ? std::vector<std::string>{"attn_qkv"}
                                             : std::vector<std::string>{"attn_q", "attn_k", "attn_v"}},
          {LinearGroup::AttnOutput, {"attn_output"}},
          {LinearGroup::FfnGateUp, c.fused_gate_up ? std::vector<std::string>{"ffn_gate_up"}
                                                   : std::vector<std::string>{"ffn_gate", "ffn_up"}},
          {LinearGroup::FfnDown, {"ffn_down"}}};
}

// The process's peak resident set so far (Linux reports ru_maxrss in KiB).
uint64_t peak_resident_bytes() {
  rusage ru{};
  return getrusage(RUSAGE_SELF, &ru) == 0 ? uint64_t(ru.ru_maxrss) * 1024 : 0;
}

std::string tensor_name(uint32_t block, const std::string& linear) {
  return "blk." + std::to_string(block) + "." + (linear == "ffn_gate_up" ? "ffn_up" : linear) + ".weight";
}

uint32_t group_input_width(const model::LlamaConfig& c, LinearGroup g) {
  switch (g) {
    case LinearGroup::AttnOutput: return c.q_dim();
    case LinearGroup::FfnDown: return c.hidden_dim;
    default: return c.dim;
  }
}

// Calibration sequences grouped so that one chunk of whole sequences fits `chunk_tokens`.
struct Chunk {
  size_t first_seq = 0, n_seqs = 0;
  uint64_t first_token = 0;
  uint32_t tokens = 0;
};

std::vector<Chunk> make_chunks(const std::vector<std::vector<int32_t>>& seqs, uint32_t chunk_tokens) {
  std::vector<Chunk> chunks;
  uint64_t token = 0;
  for (size_t i = 0; i < seqs.size(); ++i) {
    const uint32_t len = uint32_t(seqs[i].size());
    if (chunks.empty() || (chunks.back().tokens + len > chunk_tokens && chunks.back().n_seqs > 0))
      chunks.push_back({i, 0, token, 0});
    chunks.back().n_seqs++;
    chunks.back().tokens += len;
    token += len;
  }
  return chunks;
}

// The chunk's sequences in two chunks (the first holding half, rounded up); false for a one-sequence chunk.
bool split_chunk(const std::vector<std::vector<int32_t>>& seqs, std::vector<Chunk>& chunks, size_t i) {
  const Chunk c = chunks[i];
  if (c.n_seqs < 2) return false;
  Chunk a{c.first_seq, (c.n_seqs + 1) / 2, c.first_token, 0};
  for (size_t q = 0; q < a.n_seqs; ++q) a.tokens += uint32_t(seqs[c.first_seq + q].size());
  const Chunk b{c.first_seq + a.n_seqs, c.n_seqs - a.n_seqs, c.first_token + a.tokens, c.tokens - a.tokens};
  chunks[i] = a;
  chunks.insert(chunks.begin() + ptrdiff_t(i) + 1, b);
  return true;
}

forward::TokenBatch chunk_batch(const std::vector<std::vector<int32_t>>& seqs, const Chunk& c) {
  return forward::TokenBatch::from_sequences(
      std::vector<std::vector<int32_t>>(seqs.begin() + long(c.first_seq), seqs.begin() + long(c.first_seq + c.n_seqs)));
}

// The activations of every calibration token (tokens x dim), on the host.
// Every calibration token's activation at a block boundary, held on the host between blocks: fp32, or
// fp16 with --activations f16 (half the memory; each value rounded to fp16 once per block).
struct Activations {
  uint32_t dim = 0;
  bool half = false;
  std::vector<float> x;     // fp32 storage
  std::vector<uint16_t> h;  // fp16 storage

  uint64_t tokens() const { return dim ? (half ? h.size() : x.size()) / dim : 0; }
  void resize(uint64_t tokens, uint32_t width, bool use_half) {
    dim = width, half = use_half;
    if (half) h.assign(tokens * dim, 0);
    else x.assign(tokens * dim, 0.0f);
  }
  void upload(vk::Context& ctx, vk::Buffer& dst, uint64_t first_token, uint64_t tokens) const {
    const uint64_t n = tokens * dim;
    if (!half) return vk::upload(ctx, dst, x.data() + first_token * dim, n * 4);
    std::vector<float> f(n);
    for (uint64_t i = 0; i < n; ++i) f[i] = half_to_float(h[first_token * dim + i]);
    vk::upload(ctx, dst, f.data(), n * 4);
  }
  void download(vk::Context& ctx, const vk::Buffer& src, uint64_t first_token, uint64_t tokens) {
    const uint64_t n = tokens * dim;
    if (!half) return vk::download(ctx, src, x.data() + first_token * dim, n * 4);
    std::vector<float> f(n);
    vk::download(ctx, src, f.data(), n * 4);
    for (uint64_t i = 0; i < n; ++i) h[first_token * dim + i] = float_to_half(f[i]);
  }
};

class Driver {
 public:
  Driver(const QuantizeOptions& o, const ProgressCallback& progress, const CancelFlag* cancel)
      : opt_(o), progress_(progress), cancel_(cancel) {}

  QuantizeResult run();

 private:
  void embed_all(forward::TransformerModel& model, Activations& out);
  // Runs `body` on every chunk in order. A chunk that runs out of device memory (before its work was submitted,
  // so nothing it feeds has changed) is split in two by sequences for the rest of the run and its halves run
  // in its place; a one-sequence chunk that does not fit is an error that says what to change.
  void for_each_chunk(const std::function<void(const Chunk&)>& body);
  // Runs a solve or a rounding (`f` reads row_tile_bytes_); out of device memory, it halves the row tiles and
  // runs `f` again from the start (its inputs are unchanged), down to kMinRowTileBytes.
  template <class F>
  auto with_row_tile_retry(const std::string& what, F&& f) -> decltype(f());
  void record_memory_retry(const std::string& what);
  // What this run will hold (calibrate/memory_estimate.hpp), once the context and the plan exist.
  MemoryNeeds estimate(uint64_t calibration_tokens) const;
  void collect_statistics(uint32_t block, const Stage& stage, kernels::GramAccumulator& gram,
                          kernels::CrossGramAccumulator* cross);
  // Each chain's attention outputs of one block, saved by the first pass that computes them (the AttnOutput
  // stage) and reused by the later stages and the propagation: q/k/v do not change after the AttnQkv stage,
  // so the reused values are exactly what the pass would compute. Costs one more chain of host memory
  // (tokens x q_dim fp32); not kept with --activations f16.
  struct AttentionCache {
    Activations values;
    int64_t block = -1;  // the block `values` belongs to; -1: none
  };
  bool will_save_attention(const AttentionCache& cache, uint32_t block, LinearGroup stop) const;
  void block_pass(forward::TransformerModel& model, AttentionCache& cache, bool save, uint32_t block, const Chunk& c,
                  forward::DeviceBatch& db, const vk::Buffer& xin, vk::Buffer& xout, const forward::CaptureFn* capture,
                  std::optional<LinearGroup> stop, const forward::ExpertCaptureFn* expert_capture = nullptr);
  void advance_block(forward::TransformerModel& model, AttentionCache& cache, uint32_t block, Activations& x);
  void solve_stage(uint32_t block, const Stage& stage);
  // A mixture-of-experts block's FFN stage: one Gram matrix per expert from the tokens routed to it (in passes
  // of as many experts as kExpertGramBytes allows), each expert solved on its own; an expert with fewer than
  // --min-expert-tokens tokens takes the block's pooled Gram (all experts' routed inputs together).
  void solve_expert_stage(uint32_t block, const Stage& stage);
  // AWQ (§4 GS): per-input-channel scales s for a group preceded by an RMSNorm; W ← W diag(s),
  // H ← diag(1/s) H diag(1/s), mean|x| ← mean|x|/s, and the norm weight ← norm/s (returned).
  std::vector<double> awq_fold(uint32_t block, const Stage& stage, const std::vector<std::string>& lins,
                               std::vector<std::vector<float>>& ws, vk::Buffer& h, uint32_t n,
                               std::vector<double>& mean_abs, const ref::GridSpec& grid);
  // Rounds a tensor without calibration statistics to nearest; returns its dequantized values.
  std::vector<float> round_uncalibrated(const io::TensorPlan& t);
  // The quantized chain embeds with what the file will hold (rounded before calibration starts); the
  // values go to model_q_ when `upload` (else only to the file).
  void prepare_embedding(bool upload);
  // The output head (or the tied embedding serving as it): GPTQ/SNRQ on the Gram of the final-norm outputs.
  void solve_head();
  // H (and D when α > 0) from the accumulators into h and d, and the statistics pointing at them.
  quant::LayerStatistics finalize_statistics(kernels::GramAccumulator& gram, kernels::CrossGramAccumulator* cross,
                                             uint32_t n, vk::Buffer& h, vk::Buffer& d);
  // D += α ΔX-weighted cross products of one chunk: per sequence with sampled α, else α = 1.
  void accumulate_cross(vk::Stream& s, kernels::CrossGramAccumulator& cross, const vk::Buffer& x_full,
                        const vk::Buffer& x_quant, const Chunk& c, uint32_t cols);
  // The solved tensor's GGUF bytes (its type from the plan), packed at once: the run keeps these, not codes.
  // `plan` (one expert of a stack) in place of the plan's entry for out.name.
  std::vector<uint8_t> pack_for_gguf(const quant::LayerQuantOutput& out, const io::TensorPlan* plan = nullptr) const;
  void write_output();
  // Keeps a solved tensor's packed bytes (a folded norm) for the file, and for the checkpoint when one is kept.
  void keep_packed(const std::string& name, std::vector<uint8_t> bytes);
  void keep_folded_norm(const std::string& name, std::vector<float> values);
  // What a resumed run must match, the saved state's refusal or restoration, and the save after a block.
  RunIdentity run_identity() const;
  uint32_t open_checkpoint();  // returns the blocks already done (0 when starting)
  void restore(ResumedRun run);
  void save_checkpoint(uint32_t blocks_done, bool head_done);
  // --imatrix-out: the summed squared inputs of a calibrated tensor (its Gram's diagonal, unnormalised).
  void record_imatrix(const std::string& tensor, const kernels::GramAccumulator& gram);
  void evaluate();

  const QuantizeOptions& opt_;
  ProgressCallback progress_;
  const CancelFlag* cancel_;
  std::unique_ptr<ProgressTracker> tracker_;
  std::unique_ptr<ModelSource> src_;
  OutputTarget target_;
  io::OutputPlan plan_;
  io::RunSettings settings_;  // what the run report and the GGUF record
  CalibrationSet calib_;
  std::vector<Chunk> chunks_;
  std::vector<double> alphas_;  // per sequence, sampled α
  std::unique_ptr<vk::Context> ctx_;
  std::unique_ptr<forward::TransformerModel> model_q_, model_f_;
  std::unique_ptr<io::QuantizedGgufWriter> writer_;
  std::unique_ptr<io::ImatrixWriter> imatrix_writer_;     // --imatrix-out
  std::map<std::string, io::ImatrixEntry> imatrix_;      // per calibrated tensor
  Activations xq_, xf_;
  AttentionCache att_q_, att_f_;
  std::map<std::string, std::vector<uint8_t>> solved_;  // packed, per quantized tensor
  std::map<std::string, TensorResult> results_;
  std::map<std::string, std::vector<float>> folded_norms_;  // AWQ: norm weights with 1/s folded in
  std::vector<std::string> notes_;
  double stage_units_ = 0;
  // Only an evaluation runs the quantized model after calibration; without one, each block (and the
  // embedding) leaves the device once the quantized chain has passed it.
  bool keep_quantized_model_ = true;
  // The largest rows x cols fp32 block a solve or a rounding holds on the device at once: larger tensors
  // go in row tiles with the same result. VKQ_ROW_TILE_BYTES (tests, diagnostics) overrides 64 MiB.
  uint64_t row_tile_bytes_ = row_tile_bytes_from_env();
  static constexpr uint64_t kMinRowTileBytes = 256 << 10;
  std::vector<std::string> memory_retries_;  // for the report: each retry after running out of device memory
  std::unique_ptr<RunCheckpoint> checkpoint_;  // the output's lock, and the resume state when checkpointing_
  bool checkpointing_ = false;
  bool head_done_ = false;  // the output head is solved and saved (restored, or since the last save)
  uint32_t first_block_ = 0;  // restored: the blocks solved before the interruption
  RunIdentity identity_;      // computed once (it reads the input's samples)
  bool calibrating_ = false;  // past the setup: a failure from here on may leave a state worth resuming
  bool storing_ = false;      // writing the checkpoint or the output: a failure here is the disk's, not the input's
 public:
  // After a failure: keeps the saved state when the failure is one a rerun can get past (an interruption, memory,
  // the device, the disk) and says how to resume; after one the input or settings caused (a NaN weight, a scale
  // that overflows), which a resume would meet again, removes it so that the next run is not refused.
  void after_failure(bool interruption_or_resources) {
    if (!calibrating_ || !checkpointing_ || !checkpoint_ || !checkpoint_->has_state()) return;
    if (!interruption_or_resources && !storing_) return checkpoint_->discard();
    if (tracker_)
      tracker_->notice("the run's progress is saved in " + checkpoint_->directory() + " (" +
                       std::to_string(checkpoint_->saved_blocks()) +
                       " blocks done): the same command with --resume continues from there");
  }
 private:
  static uint64_t row_tile_bytes_from_env() {
    const char* v = std::getenv("VKQ_ROW_TILE_BYTES");
    return v && std::strtoull(v, nullptr, 10) > 0 ? std::strtoull(v, nullptr, 10) : 64ull << 20;
  }
};

MemoryNeeds Driver::estimate(uint64_t calibration_tokens) const {
  MemoryEstimateInputs in;
  in.config = src_->weights.config();
  in.calibration_tokens = calibration_tokens;
  in.chunk_tokens = opt_.chunk_tokens;
  in.two_chains = opt_.alpha_mode == "sampled" || opt_.alpha > 0;
  in.evaluate = !opt_.eval_text_path.empty();
  in.f16_activations = opt_.activations == "f16";
  in.embedding_on_host = forward::TransformerModel::embedding_on_host(*ctx_, in.config);
  in.embedding_changed = !target_.generic && (in.evaluate || opt_.calib_rounded_embedding);
  in.row_tile_bytes = row_tile_bytes_;
  const bool tied = plan_.find("output.weight") == nullptr;
  in.head_solved = false;  // true below when the plan calibrates the head (a generic grid solves none)
  for (const auto& t : plan_.tensors) {
    if (t.action != io::TensorAction::quantize) continue;
    in.output_bytes += t.rows() * model::ggml_row_size(t.output_type, t.cols());
    // An expert stack is solved (and read) one expert at a time.
    const uint64_t rows = io::is_expert_stack(t.name) && in.config.moe() ? t.rows() / in.config.n_experts : t.rows();
    in.largest_tensor_elements = std::max<uint64_t>(in.largest_tensor_elements, rows * t.cols());
    const bool head = t.name == (tied ? "token_embd.weight" : "output.weight");
    if (head && t.calibrated) in.head_solved = true;
    // Super-block types round on the host; the legacy ones in row tiles on the device.
    if (!t.calibrated && superblock_for_gguf_type(t.output_type) == ref::SuperBlock::none)
      in.rounded_elements = std::max<uint64_t>(in.rounded_elements, t.rows() * t.cols());
  }
  if (target_.generic)  // nothing is packed; the largest linear is what is solved
    for (const Stage& st : stages(in.config))
      for (const auto& lin : st.linears) {
        const model::LinearShape s = model::linear_shape(in.config, lin);
        in.largest_tensor_elements = std::max<uint64_t>(in.largest_tensor_elements, uint64_t(s.rows) * s.cols);
      }
  return estimate_memory(in);
}

void Driver::record_memory_retry(const std::string& what) {
  memory_retries_.push_back(what);
  notes_.push_back(what);
  tracker_->notice(what);
}

void Driver::for_each_chunk(const std::function<void(const Chunk&)>& body) {
  for (size_t i = 0; i < chunks_.size();) {
    try {
      body(chunks_[i]);
      ++i;
    } catch (const vk::OutOfDeviceMemory& e) {
      const Chunk c = chunks_[i];
      if (!split_chunk(calib_.sequences, chunks_, i))
        throw vk::OutOfDeviceMemory(std::string(e.what()) + "; a chunk of one calibration sequence (" +
                                    std::to_string(c.tokens) + " tokens) does not fit either: lower --calib-len, "
                                    "or raise --max-device-memory");
      record_memory_retry(std::string(e.what()) + "; retried with the chunk of " + std::to_string(c.tokens) +
                          " tokens split into " + std::to_string(chunks_[i].tokens) + " + " +
                          std::to_string(chunks_[i + 1].tokens));
    }
  }
}

template <class F>
auto Driver::with_row_tile_retry(const std::string& what, F&& f) -> decltype(f()) {
  for (;;) {
    try {
      return f();
    } catch (const vk::OutOfDeviceMemory& e) {
      if (row_tile_bytes_ / 2 < kMinRowTileBytes)
        throw vk::OutOfDeviceMemory(std::string(e.what()) + " (" + what + ", in row tiles of " +
                                    std::to_string(row_tile_bytes_ >> 10) + " KiB: the matrices the solve needs " +
                                    "whole do not fit; raise --max-device-memory)");
      row_tile_bytes_ /= 2;
      record_memory_retry(std::string(e.what()) + "; " + what + " retried in row tiles of " +
                          std::to_string(row_tile_bytes_ >> 10) + " KiB");
    }
  }
}

void Driver::embed_all(forward::TransformerModel& model, Activations& out) {
  const uint64_t tokens = std::accumulate(chunks_.begin(), chunks_.end(), uint64_t(0),
                                          [](uint64_t a, const Chunk& c) { return a + c.tokens; });
  out.resize(tokens, model.config().dim, opt_.activations == "f16");
  for_each_chunk([&](const Chunk& c) {
    tracker_->check_cancelled();
    auto batch = chunk_batch(calib_.sequences, c);
    auto db = model.prepare(batch);
    vk::Buffer x = model.make_activations(c.tokens, "embedded chunk");
    vk::Stream s(*ctx_);
    model.embed(s, db, x);
    s.submit_and_wait();
    out.download(*ctx_, x, c.first_token, c.tokens);
  });
}

void Driver::collect_statistics(uint32_t block, const Stage& stage, kernels::GramAccumulator& gram,
                                kernels::CrossGramAccumulator* cross) {
  {
    vk::Stream s(*ctx_);
    gram.reset(s);
    if (cross) cross->reset(s);
    s.submit_and_wait();
  }
  const bool saves_q = will_save_attention(att_q_, block, stage.group), saves_f = cross && will_save_attention(att_f_, block, stage.group);
  for_each_chunk([&](const Chunk& c) {
    tracker_->check_cancelled();
    auto batch = chunk_batch(calib_.sequences, c);
    auto db = model_q_->prepare(batch);
    vk::Buffer xin = model_q_->make_activations(c.tokens, "calibration input");
    xq_.upload(*ctx_, xin, c.first_token, c.tokens);
    const uint32_t width = group_input_width(model_q_->config(), stage.group);
    // The full-precision chain's input of this group, kept for the cross-Gram (α ≠ 0).
    vk::Buffer xf_group;
    if (cross) {
      auto dbf = model_f_->prepare(batch);
      vk::Buffer xf_in = model_f_->make_activations(c.tokens, "full-precision input");
      xf_.upload(*ctx_, xf_in, c.first_token, c.tokens);
      xf_group = vk::Buffer(*ctx_, uint64_t(c.tokens) * width * 4, vk::MemoryUse::Device, "full-precision group input");
      forward::CaptureFn keep = [&](vk::Stream& s, LinearGroup g, const vk::Buffer& x, uint32_t tokens, uint32_t cols) {
        if (g == stage.group) s.copy(x, xf_group, uint64_t(tokens) * cols * 4);
      };
      block_pass(*model_f_, att_f_, saves_f, block, c, dbf, xf_in, xf_in, &keep, stage.group);
    }
    forward::CaptureFn accumulate = [&](vk::Stream& s, LinearGroup g, const vk::Buffer& x, uint32_t tokens,
                                        uint32_t cols) {
      if (g != stage.group) return;
      gram.accumulate(s, x, tokens, kernels::ActivationType::F32);
      if (cross) accumulate_cross(s, *cross, xf_group, x, c, cols);
    };
    block_pass(*model_q_, att_q_, saves_q, block, c, db, xin, xin, &accumulate, stage.group);  // stops at the capture
    tracker_->advance(double(c.tokens));
  });
  if (saves_q) att_q_.block = block;
  if (saves_f) att_f_.block = block;
}

bool Driver::will_save_attention(const AttentionCache& cache, uint32_t block, LinearGroup stop) const {
  // f16 activations ask for less host memory: recompute instead of holding another chain.
  // VKQ_RECOMPUTE_ATTENTION=1 (diagnostics, tests): recompute too, to show the saved values change nothing.
  const bool recompute = std::getenv("VKQ_RECOMPUTE_ATTENTION") != nullptr;
  return !recompute && opt_.activations != "f16" && cache.block != int64_t(block) && stop != LinearGroup::AttnQkv;
}

void Driver::block_pass(forward::TransformerModel& model, AttentionCache& cache, bool save, uint32_t block,
                        const Chunk& c, forward::DeviceBatch& db, const vk::Buffer& xin, vk::Buffer& xout,
                        const forward::CaptureFn* capture, std::optional<LinearGroup> stop,
                        const forward::ExpertCaptureFn* expert_capture) {
  const uint32_t q_dim = model.config().q_dim();
  forward::BlockPass pass;
  pass.capture = capture;
  pass.stop_after = stop;
  pass.expert_capture = expert_capture;
  vk::Buffer saved;
  forward::CaptureFn keep;
  if (cache.block == int64_t(block)) {  // q/k/v have not changed since it was saved
    saved = vk::Buffer(*ctx_, uint64_t(c.tokens) * q_dim * 4, vk::MemoryUse::Device, "saved attention output");
    cache.values.upload(*ctx_, saved, c.first_token, c.tokens);
    pass.attention = &saved;
  } else if (save) {
    if (cache.values.dim != q_dim || cache.values.x.size() != xq_.tokens() * q_dim) cache.values.resize(xq_.tokens(), q_dim, false);
    saved = vk::Buffer(*ctx_, uint64_t(c.tokens) * q_dim * 4, vk::MemoryUse::Device, "attention output to save");
    keep = [&](vk::Stream& s, LinearGroup g, const vk::Buffer& x, uint32_t tokens, uint32_t cols) {
      if (g == LinearGroup::AttnOutput) s.copy(x, saved, uint64_t(tokens) * cols * 4);
      if (capture && *capture) (*capture)(s, g, x, tokens, cols);
    };
    pass.capture = &keep;
  }
  vk::Stream s(*ctx_);
  model.forward_block(s, block, xin, db, xout, pass);
  s.submit_and_wait();
  if (save && !pass.attention) cache.values.download(*ctx_, saved, c.first_token, c.tokens);
}

quant::LayerStatistics Driver::finalize_statistics(kernels::GramAccumulator& gram, kernels::CrossGramAccumulator* cross,
                                                  uint32_t n, vk::Buffer& h, vk::Buffer& d) {
  h = vk::Buffer(*ctx_, uint64_t(n) * n * 4, vk::MemoryUse::Device, "H");
  vk::Stream s(*ctx_);
  gram.finalize(s, h);
  if (cross) {
    d = vk::Buffer(*ctx_, uint64_t(n) * n * 4, vk::MemoryUse::Device, "D");
    cross->finalize(s, d);
  }
  s.submit_and_wait();
  quant::LayerStatistics stats;
  stats.h = &h;
  stats.d = cross ? &d : nullptr;
  stats.n = n;
  stats.channel_mean_abs = gram.channel_stats_host().mean_abs;
  return stats;
}

void Driver::accumulate_cross(vk::Stream& s, kernels::CrossGramAccumulator& cross, const vk::Buffer& x_full,
                              const vk::Buffer& x_quant, const Chunk& c, uint32_t cols) {
  if (alphas_.empty()) {
    cross.accumulate(s, x_full, x_quant, c.tokens, 1.0f);
    return;
  }
  uint64_t offset = 0;  // sampled α: each sequence weighs its own ΔX by α_s
  for (size_t q = 0; q < c.n_seqs; ++q) {
    const uint32_t len = uint32_t(calib_.sequences[c.first_seq + q].size());
    cross.accumulate(s, x_full, x_quant, len, float(alphas_[c.first_seq + q]), offset * cols, offset * cols);
    offset += len;
  }
}

void Driver::advance_block(forward::TransformerModel& model, AttentionCache& cache, uint32_t block, Activations& x) {
  const bool save = false;  // the last pass of the block: nothing after it could reuse a save
  for_each_chunk([&](const Chunk& c) {
    tracker_->check_cancelled();
    auto batch = chunk_batch(calib_.sequences, c);
    auto db = model.prepare(batch);
    vk::Buffer xin = model.make_activations(c.tokens, "block input");
    vk::Buffer xout = model.make_activations(c.tokens, "block output");
    x.upload(*ctx_, xin, c.first_token, c.tokens);
    block_pass(model, cache, save, block, c, db, xin, xout, nullptr, std::nullopt);
    x.download(*ctx_, xout, c.first_token, c.tokens);
    tracker_->advance(double(c.tokens));
  });
}

std::vector<uint8_t> Driver::pack_for_gguf(const quant::LayerQuantOutput& out, const io::TensorPlan* plan) const {
  const io::TensorPlan* t = plan ? plan : plan_.find(out.name);
  if (!t) throw Error(out.name + ": missing from the output plan");
  const std::string op = out.name + ": packing for " + model::ggml_type_name(t->output_type);
  std::vector<float> d, m;
  if (!out.superblocks.empty()) {
    std::vector<int32_t> scales, mins;
    for (const auto& sb : out.superblocks) {
      d.push_back(float(sb.d));
      m.push_back(float(sb.dmin));
      scales.insert(scales.end(), sb.scale, sb.scale + 16);
      mins.insert(mins.end(), sb.min, sb.min + 16);
    }
    return io::pack_superblock_tensor(*t, out.codes, d, m, scales, mins, op);
  }
  for (const auto& p : out.params) {
    if (!std::isfinite(p.scale) || !std::isfinite(p.min) || std::abs(p.scale) > 65504 || std::abs(p.min) > 65504)
      throw Error(out.name + ": a block scale overflows fp16 (|d| > 65504); the weights are too large for this type");
    d.push_back(float(p.scale));
    m.push_back(float(p.min));
  }
  return io::pack_quantized_tensor(*t, out.codes, d, m, op);  // it reads m only for the types with minimums
}

void Driver::solve_stage(uint32_t block, const Stage& stage) {
  const auto& cfg = model_q_->config();
  if (cfg.moe() && (stage.group == LinearGroup::FfnGateUp || stage.group == LinearGroup::FfnDown))
    return solve_expert_stage(block, stage);
  const uint32_t n = group_input_width(cfg, stage.group);
  // Which linears of this group get calibrated codes, and with which grid (and super-block format).
  std::map<std::string, ref::GridSpec> grids;
  std::map<std::string, ref::SuperBlock> superblocks;
  for (const auto& lin : stage.linears) {
    const std::string name = tensor_name(block, lin);
    if (target_.generic) {
      grids[lin] = target_.grid;
      continue;
    }
    const io::TensorPlan* t = plan_.find(name);
    if (!t) throw Error(name + ": missing from the model");
    if (t->action == io::TensorAction::quantize) {
      grids[lin] = grid_for_gguf_type(t->output_type);
      superblocks[lin] = superblock_for_gguf_type(t->output_type);
    } else if (t->output_type == model::GgmlType::F16 || t->output_type == model::GgmlType::BF16) {
      // The quantized chain must see what the file will hold: the weights rounded to 16 bits.
      auto w = src_->weights.linear(block, lin).data;
      for (auto& v : w) v = t->output_type == model::GgmlType::F16 ? round_to_half(v) : bf16_to_float(float_to_bf16(v));
      model_q_->set_linear_weights(block, lin, w);
    }
  }
  if (grids.empty()) {
    tracker_->advance(stage_units_);
    return;
  }
  kernels::GramAccumulator gram(*ctx_, n);
  std::unique_ptr<kernels::CrossGramAccumulator> cross;
  const bool need_d = opt_.alpha_mode == "sampled" || opt_.alpha > 0;
  if (need_d) cross = std::make_unique<kernels::CrossGramAccumulator>(*ctx_, n);
  tracker_->begin("calibrate", "blk." + std::to_string(block) + " " + forward::linear_group_name(stage.group),
                  block + 1, cfg.n_layers);
  collect_statistics(block, stage, gram, cross.get());
  test_kill_point("solve blk." + std::to_string(block) + " " + forward::linear_group_name(stage.group));
  vk::Buffer h, d;
  const quant::LayerStatistics stats = finalize_statistics(gram, cross.get(), n, h, d);
  for (const auto& [lin, g] : grids) record_imatrix(tensor_name(block, lin), gram);
  // Linears of one group may differ in grid only through the plan; solve each grid's set together.
  std::map<std::string, std::vector<std::string>> by_grid;
  for (const auto& [lin, g] : grids)
    by_grid[std::to_string(int(g.format)) + "/" + std::to_string(g.bits) + "/" + std::to_string(g.group) + "/" +
            std::to_string(int(superblocks[lin]))]
        .push_back(lin);
  for (const auto& [key, lins] : by_grid) {
    const auto t0 = Clock::now();
    quant::LayerQuantizer lq(*ctx_, layer_options(opt_, grids[lins.front()], superblocks[lins.front()]));
    lq.set_cancel_check([this] { tracker_->check_cancelled(); });
    std::vector<std::vector<float>> ws;
    std::vector<quant::LayerWeights> layers;
    ws.reserve(lins.size());
    for (const auto& lin : lins) {
      auto wm = src_->weights.linear(block, lin);
      ws.push_back(std::move(wm.data));
      layers.push_back({tensor_name(block, lin), &ws.back(), wm.rows});
    }
    tracker_->begin("quantize", "blk." + std::to_string(block) + " " + forward::linear_group_name(stage.group),
                    block + 1, cfg.n_layers);
    vk::Buffer h_scaled;
    quant::LayerStatistics group_stats = stats;
    const bool folds = opt_.method == "awq" &&
                       (stage.group == LinearGroup::AttnQkv || stage.group == LinearGroup::FfnGateUp) &&
                       lins.size() == stage.linears.size();  // the norm feeds every linear of the group
    if (folds) {
      h_scaled = vk::Buffer(*ctx_, uint64_t(n) * n * 4, vk::MemoryUse::Device, "H scaled");
      {
        vk::Stream s(*ctx_);
        s.copy(h, h_scaled, uint64_t(n) * n * 4);
        s.submit_and_wait();
      }
      const auto a = awq_fold(block, stage, lins, ws, h_scaled, n, group_stats.channel_mean_abs,
                              grids[lins.front()]);
      group_stats.h = &h_scaled;
      (void)a;
    }
    const std::string group_name = "blk." + std::to_string(block) + " " + forward::linear_group_name(stage.group);
    const auto outs = with_row_tile_retry(group_name + "'s solve", [&] {
      lq.set_row_tile_bytes(row_tile_bytes_);
      return lq.quantize_group(layers, group_stats, group_name);
    });
    const double seconds = std::chrono::duration<double>(Clock::now() - t0).count() / double(outs.size());
    for (size_t i = 0; i < outs.size(); ++i) {
      const auto& out = outs[i];
      model_q_->set_linear_weights(block, lins[i], out.dequantized);
      TensorResult& r = results_[out.name];
      r.name = out.name;
      // AWQ scales only the linears a norm feeds (folded into it); the rest are rounded to nearest.
      r.method = opt_.method == "awq" && !folds ? "rtn" : opt_.method;
      r.loss = out.loss;
      r.alpha_star = out.alpha_star;
      r.rows = out.rows;
      r.cols = out.cols;
      r.seconds = seconds;
      r.damping_retries = out.damping_retries;
      set_refit_rows(out, opt_.group_refits > 0, r);
      for (const auto& msg : out.damping_retries) tracker_->notice(msg);
      if (!target_.generic) keep_packed(out.name, pack_for_gguf(out));
    }
  }
  tracker_->advance(stage_units_ * 0.5);
}

namespace {
// The per-expert Gram accumulators of one pass over the calibration tokens stay within this.
constexpr uint64_t kExpertGramBytes = 512ull << 20;
}  // namespace

void Driver::solve_expert_stage(uint32_t block, const Stage& stage) {
  const auto& cfg = model_q_->config();
  const uint32_t n = group_input_width(cfg, stage.group), experts = cfg.n_experts;
  const std::string label = "blk." + std::to_string(block) + " " + forward::linear_group_name(stage.group);
  // Which stacks get calibrated codes, on which grid; a stack kept in 16 bits is rounded for the quantized chain.
  std::map<std::string, ref::GridSpec> grids;
  std::map<std::string, ref::SuperBlock> superblocks;
  for (const auto& lin : stage.linears) {
    const std::string name = tensor_name(block, lin + "_exps");
    const io::TensorPlan* t = target_.generic ? nullptr : plan_.find(name);
    if (target_.generic) {
      grids[lin] = target_.grid;
    } else if (!t) {
      throw Error(name + ": missing from the model");
    } else if (t->action == io::TensorAction::quantize) {
      grids[lin] = grid_for_gguf_type(t->output_type);
      superblocks[lin] = superblock_for_gguf_type(t->output_type);
    } else if (t->output_type == model::GgmlType::F16 || t->output_type == model::GgmlType::BF16) {
      for (uint32_t e = 0; e < experts; ++e) {
        std::vector<float> w = src_->weights.expert(block, lin + "_exps", e).data;
        for (auto& v : w) v = t->output_type == model::GgmlType::F16 ? round_to_half(v) : bf16_to_float(float_to_bf16(v));
        model_q_->set_expert_weights(block, lin, e, w);
      }
    }
  }
  if (grids.empty()) {
    tracker_->advance(stage_units_);
    return;
  }
  QuantizeOptions eopt = opt_;
  if (opt_.alpha_mode == "sampled" || opt_.alpha > 0) {  // D would need each chain's own routing of the same tokens
    eopt.alpha_mode = "fixed";
    eopt.alpha = 0;
    if (block == 0 && stage.group == LinearGroup::FfnGateUp)
      tracker_->notice("experts are calibrated with alpha = 0: their cross-Gram would need both chains' routing of the same tokens");
  }
  std::map<uint32_t, std::map<std::string, std::vector<uint8_t>>> packed;  // per expert and stack, in any order
  std::map<std::string, double> loss_sum;
  std::vector<uint64_t> counts(experts, 0);
  std::vector<uint32_t> pooled_experts;
  const auto t0 = Clock::now();
  kernels::GramAccumulator pooled(*ctx_, n);
  const uint32_t per_pass =
      uint32_t(std::clamp<uint64_t>(kExpertGramBytes / (uint64_t(n) * n * 8 + 1), 1, experts));
  const uint32_t passes = (experts + per_pass - 1) / per_pass;
  // Solves expert e against `gram` (its own, or the pooled one) and installs its values in the quantized chain.
  auto solve_expert = [&](uint32_t e, kernels::GramAccumulator& gram) {
    vk::Buffer h, d;
    const quant::LayerStatistics stats = finalize_statistics(gram, nullptr, n, h, d);
    for (const auto& [lin, g] : grids) {
      const uint32_t rows = model::linear_shape(cfg, lin).rows;
      std::vector<float> w = src_->weights.expert(block, lin + "_exps", e).data;
      const std::string name = tensor_name(block, lin + "_exps") + " expert " + std::to_string(e);
      quant::LayerQuantizer lq(*ctx_, layer_options(eopt, g, superblocks[lin]));
      lq.set_cancel_check([this] { tracker_->check_cancelled(); });
      const auto outs = with_row_tile_retry(name + "'s solve", [&] {
        lq.set_row_tile_bytes(row_tile_bytes_);
        return lq.quantize_group({{name, &w, rows}}, stats, name);
      });
      model_q_->set_expert_weights(block, lin, e, outs[0].dequantized);
      loss_sum[lin] += outs[0].loss * rows;
      for (const auto& msg : outs[0].damping_retries) tracker_->notice(msg);
      if (!target_.generic) {  // one expert's rows of the stack
        io::TensorPlan one = *plan_.find(tensor_name(block, lin + "_exps"));
        one.name = name;
        one.dims = {n, rows};
        packed[e][lin] = pack_for_gguf(outs[0], &one);
      }
    }
  };
  tracker_->begin("calibrate", label + " (" + std::to_string(experts) + " experts)", block + 1, cfg.n_layers);
  {
    vk::Stream s(*ctx_);
    pooled.reset(s);
    s.submit_and_wait();
  }
  for (uint32_t first = 0; first < experts; first += per_pass) {
    const uint32_t last = std::min(experts, first + per_pass);
    std::vector<std::unique_ptr<kernels::GramAccumulator>> grams;
    {
      vk::Stream s(*ctx_);
      for (uint32_t e = first; e < last; ++e) {
        grams.push_back(std::make_unique<kernels::GramAccumulator>(*ctx_, n));
        grams.back()->reset(s);
      }
      s.submit_and_wait();
    }
    for_each_chunk([&](const Chunk& c) {
      tracker_->check_cancelled();
      auto db = model_q_->prepare(chunk_batch(calib_.sequences, c));
      vk::Buffer xin = model_q_->make_activations(c.tokens, "calibration input");
      xq_.upload(*ctx_, xin, c.first_token, c.tokens);
      forward::ExpertCaptureFn accumulate = [&](vk::Stream& s, LinearGroup g, uint32_t e, const vk::Buffer& x,
                                                uint32_t tokens, uint32_t) {
        if (g != stage.group) return;
        if (e >= first && e < last) grams[e - first]->accumulate(s, x, tokens, kernels::ActivationType::F32);
        if (first == 0) pooled.accumulate(s, x, tokens, kernels::ActivationType::F32);
      };
      block_pass(*model_q_, att_q_, false, block, c, db, xin, xin, nullptr, stage.group, &accumulate);
      if (first == 0) {  // each token's experts: the non-zero weights of its routing row
        const auto route = vk::download_all<float>(*ctx_, db.route, size_t(c.tokens) * experts);
        for (size_t i = 0; i < route.size(); ++i) counts[i % experts] += route[i] != 0.0f;
      }
      tracker_->advance(double(c.tokens) / passes);
    });
    if (first == 0) {
      uint64_t total = 0;
      for (uint64_t k : counts) total += k;
      pooled.count_rows_as(total);
    }
    for (uint32_t e = first; e < last; ++e) {
      if (counts[e] == 0 || counts[e] < opt_.min_expert_tokens) {  // no token at all: no Gram of its own
        pooled_experts.push_back(e);
        continue;
      }
      grams[e - first]->count_rows_as(counts[e]);
      solve_expert(e, *grams[e - first]);
    }
  }
  for (uint32_t e : pooled_experts) solve_expert(e, pooled);
  if (!pooled_experts.empty()) {
    std::string list;
    for (uint32_t e : pooled_experts) list += (list.empty() ? "" : ", ") + std::to_string(e);
    tracker_->notice(label + ": experts " + list + " received fewer than " + std::to_string(opt_.min_expert_tokens) +
                     " calibration tokens (or none); solved with the block's pooled statistics");
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count() / double(grids.size());
  for (const auto& [lin, g] : grids) {
    const std::string name = tensor_name(block, lin + "_exps");
    const uint32_t rows = model::linear_shape(cfg, lin).rows;
    TensorResult& r = results_[name];
    r.name = name;
    r.method = opt_.method == "awq" ? "rtn" : opt_.method;  // AWQ folds into a norm; experts share theirs with the router
    r.loss = loss_sum[lin] / (double(rows) * experts);
    r.rows = rows * experts;
    r.cols = n;
    r.seconds = seconds;
    r.expert_tokens = counts;
    r.pooled_experts = pooled_experts;
    if (!target_.generic) {
      std::vector<uint8_t> bytes;
      for (uint32_t e = 0; e < experts; ++e) bytes.insert(bytes.end(), packed[e][lin].begin(), packed[e][lin].end());
      keep_packed(name, std::move(bytes));
    }
  }
  tracker_->advance(stage_units_ * 0.5);
}

std::vector<double> Driver::awq_fold(uint32_t block, const Stage& stage, const std::vector<std::string>& lins,
                                     std::vector<std::vector<float>>& ws, vk::Buffer& h, uint32_t n,
                                     std::vector<double>& mean_abs, const ref::GridSpec& grid) {
  // H̃ in natural order scores the candidates, as in the reference search.
  quant::HessianOptions ho;
  ho.damp = opt_.damp;
  ho.lambda = opt_.lambda;
  ho.channel_mean_abs = mean_abs;
  ho.act_order = false;
  ho.label = "blk." + std::to_string(block) + " " + forward::linear_group_name(stage.group);
  const quant::PreparedHessian prep = quant::prepare_hessian(*ctx_, h, n, ho);
  std::vector<vk::Buffer> wb;
  std::vector<quant::AwqLayerBuffers> layers;
  wb.reserve(ws.size());
  for (size_t i = 0; i < ws.size(); ++i) {
    wb.push_back(vk::upload_new(*ctx_, ws[i], lins[i]));
    layers.push_back({&wb.back(), &wb.back(), uint32_t(ws[i].size() / n)});
  }
  const quant::AwqSearchResult r = quant::awq_scale_search(*ctx_, layers, n, prep.h_reg, mean_abs, grid);
  const std::vector<double>& s = r.scales;
  for (auto& w : ws)
    for (size_t k = 0; k < w.size(); ++k) w[k] = float(double(w[k]) * s[k % n]);
  auto hv = vk::download_all<float>(*ctx_, h, size_t(n) * n);
  for (uint32_t i = 0; i < n; ++i)
    for (uint32_t j = 0; j < n; ++j) hv[size_t(i) * n + j] = float(double(hv[size_t(i) * n + j]) / (s[i] * s[j]));
  vk::upload(*ctx_, h, hv.data(), hv.size() * 4);
  for (uint32_t j = 0; j < n; ++j) mean_abs[j] /= s[j];
  const std::string norm = stage.group == LinearGroup::AttnQkv ? "attn_norm" : "ffn_norm";
  std::vector<float> nw = stage.group == LinearGroup::AttnQkv ? src_->weights.attn_norm(block)
                                                               : src_->weights.ffn_norm(block);
  for (uint32_t j = 0; j < n; ++j) nw[j] = float(double(nw[j]) / s[j]);
  model_q_->set_norm_weights(block, norm, nw);
  keep_folded_norm("blk." + std::to_string(block) + "." + norm + ".weight", nw);
  tracker_->notice("blk." + std::to_string(block) + " " + forward::linear_group_name(stage.group) +
                   ": AWQ scale exponent a = " + std::to_string(r.best_exponent) + " folded into " + norm);
  return s;
}

std::vector<float> Driver::round_uncalibrated(const io::TensorPlan& t) {
  // No calibration statistics reach the embedding or the output head: round to nearest (RTN).
  const auto t0 = Clock::now();
  const uint32_t rows = uint32_t(t.rows()), cols = uint32_t(t.cols());
  const auto values = src_->weights.tensor(t.name, rows, cols).data;
  const ref::GridSpec grid = grid_for_gguf_type(t.output_type);
  const auto record = [&](const quant::LayerQuantOutput& out) {  // the packed tensor and its report entry
    keep_packed(t.name, pack_for_gguf(out));
    TensorResult& r = results_[t.name];
    r.name = t.name;
    r.method = "rtn";
    r.rows = rows;
    r.cols = cols;
    r.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    r.note = t.reason;
  };
  if (const ref::SuperBlock sb = superblock_for_gguf_type(t.output_type); sb != ref::SuperBlock::none) {
    // The super-block search with unit weights (no statistics), then the codes against its params.
    const std::vector<double> td(values.begin(), values.end());
    ref::SuperBlockSearch found;
    try {
      found = ref::superblock_search(td.data(), rows, cols, sb, nullptr);
    } catch (const Error& e) {
      throw Error(t.name + ": " + e.what());
    }
    const ref::EncodedMatrix e = ref::encode_with_params(td.data(), rows, cols, grid, found.params);
    const std::vector<double> q = ref::decode_matrix(e, grid);
    quant::LayerQuantOutput out;
    out.name = t.name;
    out.codes = e.codes;
    out.superblocks = std::move(found.blocks);
    record(out);
    return {q.begin(), q.end()};
  }
  kernels::Rtn rtn(*ctx_, grid);
  const uint32_t groups = kernels::grid_groups_per_row(grid, cols);
  // Row tiles (a large vocabulary's table is GBs): rows round independently.
  quant::LayerQuantOutput out;
  out.name = t.name;
  std::vector<float> dequantized;
  with_row_tile_retry(t.name + "'s rounding", [&] {
  const uint32_t tile_rows = uint32_t(std::clamp<uint64_t>(row_tile_bytes_ / (uint64_t(cols) * 4), 1, rows));
  out.codes.clear(), out.params.clear(), dequantized.clear();
  out.codes.reserve(size_t(rows) * cols);
  dequantized.reserve(size_t(rows) * cols);
  for (uint32_t r0 = 0; r0 < rows; r0 += tile_rows) {
    tracker_->check_cancelled();
    const uint32_t m = std::min(tile_rows, rows - r0);
    vk::Buffer w(*ctx_, uint64_t(m) * cols * 4, vk::MemoryUse::Device, t.name);
    vk::upload(*ctx_, w, values.data() + size_t(r0) * cols, uint64_t(m) * cols * 4);
    vk::Buffer params(*ctx_, uint64_t(m) * groups * 16, vk::MemoryUse::Device, t.name + " params");
    vk::Buffer codes(*ctx_, uint64_t(m) * cols * 4, vk::MemoryUse::Device, t.name + " codes");
    vk::Buffer q(*ctx_, uint64_t(m) * cols * 4, vk::MemoryUse::Device, t.name + " Q");
    vk::Stream s(*ctx_);
    kernels::RtnShape shape;
    shape.m = m, shape.n = cols;
    rtn.run(s, w, params, codes, q, shape);
    s.submit_and_wait();
    const auto c = vk::download_all<int32_t>(*ctx_, codes, size_t(m) * cols);
    const auto prm = kernels::params_from_device(vk::download_all<float>(*ctx_, params, size_t(m) * groups * 4));
    const auto qv = vk::download_all<float>(*ctx_, q, size_t(m) * cols);
    out.codes.insert(out.codes.end(), c.begin(), c.end());
    out.params.insert(out.params.end(), prm.begin(), prm.end());
    dequantized.insert(dequantized.end(), qv.begin(), qv.end());
  }
  });
  record(out);
  return dequantized;
}

namespace {
// The values a float-converted tensor will hold in the file.
void round_to_float_type(std::vector<float>& v, model::GgmlType t) {
  if (t == model::GgmlType::F16)
    for (auto& x : v) x = round_to_half(x);
  else if (t == model::GgmlType::BF16)
    for (auto& x : v) x = bf16_to_float(float_to_bf16(x));
}
}  // namespace

void Driver::prepare_embedding(bool upload) {
  const io::TensorPlan* t = plan_.find("token_embd.weight");
  if (!t) return;
  if (t->action == io::TensorAction::quantize) {
    const auto v = round_uncalibrated(*t);
    if (upload) model_q_->set_embedding(v);
  } else if (t->action == io::TensorAction::convert && upload) {
    auto v = src_->weights.token_embedding().data;
    round_to_float_type(v, t->output_type);
    model_q_->set_embedding(v);
  }
}

void Driver::solve_head() {
  const bool tied = plan_.find("output.weight") == nullptr;
  const std::string name = tied ? "token_embd.weight" : "output.weight";
  const io::TensorPlan* t = plan_.find(name);
  if (!t) return;
  if (t->action == io::TensorAction::convert) {
    if (!keep_quantized_model_) return;  // the file copies it; nothing runs it
    auto v = src_->weights.output().data;
    round_to_float_type(v, t->output_type);
    model_q_->set_output_weights(v);
    return;
  }
  if (t->action != io::TensorAction::quantize || !t->calibrated) return;
  const auto t0 = Clock::now();
  const uint32_t n = model_q_->config().dim;
  const bool need_d = model_f_ != nullptr;
  kernels::GramAccumulator gram(*ctx_, n);
  std::unique_ptr<kernels::CrossGramAccumulator> cross;
  if (need_d) cross = std::make_unique<kernels::CrossGramAccumulator>(*ctx_, n);
  {
    vk::Stream s(*ctx_);
    gram.reset(s);
    if (cross) cross->reset(s);
    s.submit_and_wait();
  }
  tracker_->begin("calibrate", "output head", 1, 1);
  for_each_chunk([&](const Chunk& c) {
    tracker_->check_cancelled();
    auto batch = chunk_batch(calib_.sequences, c);
    auto db = model_q_->prepare(batch);
    vk::Buffer xq = model_q_->make_activations(c.tokens, "head input");
    xq_.upload(*ctx_, xq, c.first_token, c.tokens);
    std::optional<forward::DeviceBatch> dbf;
    vk::Buffer xf;
    vk::Stream s(*ctx_);
    const vk::Buffer& nq = model_q_->final_norm(s, xq, db);
    gram.accumulate(s, nq, c.tokens, kernels::ActivationType::F32);
    if (cross) {
      dbf.emplace(model_f_->prepare(batch));
      xf = model_f_->make_activations(c.tokens, "full-precision head input");
      xf_.upload(*ctx_, xf, c.first_token, c.tokens);
      const vk::Buffer& nf = model_f_->final_norm(s, xf, *dbf);
      accumulate_cross(s, *cross, nf, nq, c, n);
    }
    s.submit_and_wait();
    tracker_->advance(double(c.tokens));
  });
  vk::Buffer h, d;
  const quant::LayerStatistics stats = finalize_statistics(gram, cross.get(), n, h, d);
  record_imatrix(name, gram);
  tracker_->begin("quantize", "output head", 1, 1);
  quant::LayerQuantizer lq(*ctx_, layer_options(opt_, grid_for_gguf_type(t->output_type),
                                                superblock_for_gguf_type(t->output_type)));
  lq.set_cancel_check([this] { tracker_->check_cancelled(); });
  auto wm = src_->weights.output();  // the embedding when tied
  std::vector<quant::LayerWeights> layers = {{name, &wm.data, wm.rows}};
  const auto out = with_row_tile_retry("the output head's solve", [&] {
    lq.set_row_tile_bytes(row_tile_bytes_);
    return lq.quantize_group(layers, stats, "output head").at(0);
  });
  if (keep_quantized_model_) {
    model_q_->set_output_weights(out.dequantized);
    if (tied) model_q_->set_embedding(out.dequantized);  // the file holds one table for both roles
  }
  TensorResult& r = results_[name];
  r.name = name;
  r.method = opt_.method == "awq" ? "rtn" : opt_.method;
  r.loss = out.loss;
  r.alpha_star = out.alpha_star;
  r.rows = out.rows;
  r.cols = out.cols;
  r.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  r.damping_retries = out.damping_retries;
  set_refit_rows(out, opt_.group_refits > 0, r);
  r.note = t->reason;
  for (const auto& msg : out.damping_retries) tracker_->notice(msg);
  keep_packed(name, pack_for_gguf(out));
}

void Driver::record_imatrix(const std::string& tensor, const kernels::GramAccumulator& gram) {
  if (!imatrix_writer_) return;
  const kernels::ChannelStats cs = gram.channel_stats_host();
  io::ImatrixEntry& e = imatrix_[tensor];
  e.count = cs.tokens;
  e.in_sum2.resize(cs.mean_sq.size());
  for (size_t j = 0; j < cs.mean_sq.size(); ++j) e.in_sum2[j] = cs.mean_sq[j] * double(cs.tokens);
  if (checkpointing_ && !head_done_)
    checkpoint_->append(SavedKind::imatrix, tensor, e.in_sum2.data(), e.in_sum2.size() * sizeof(double), e.count);
}

void Driver::keep_packed(const std::string& name, std::vector<uint8_t> bytes) {
  if (checkpointing_ && !head_done_) checkpoint_->append(SavedKind::packed, name, bytes.data(), bytes.size());
  solved_[name] = std::move(bytes);
}

void Driver::keep_folded_norm(const std::string& name, std::vector<float> values) {
  if (checkpointing_) checkpoint_->append(SavedKind::norm, name, values.data(), values.size() * sizeof(float));
  folded_norms_[name] = std::move(values);
}

void Driver::write_output() {
  storing_ = true;  // from here to the end every failure is the disk's
  tracker_->begin("write", opt_.output_path, 1, 1);
  for (const auto& t : plan_.tensors) {
    tracker_->check_cancelled();
    TensorResult& r = results_[t.name];
    r.name = t.name;
    r.type = model::ggml_type_name(t.output_type);
    if (r.note.empty() && t.fallback) r.note = t.reason;
    if (t.action == io::TensorAction::quantize) {
      writer_->write_packed(t.name, solved_.at(t.name));
      solved_.erase(t.name);  // written: its bytes are no longer needed
      test_kill_point("write " + t.name);
    } else if (auto f = folded_norms_.find(t.name); f != folded_norms_.end()) {
      writer_->write_float(t.name, f->second);  // AWQ scales folded into the norm
      r.method = "awq-fold";
      r.rows = 1;
      r.cols = uint32_t(t.cols());
    } else {
      writer_->write_from_input(t.name);
      if (r.method.empty()) r.method = io::tensor_action_name(t.action);
      r.rows = uint32_t(t.rows());
      r.cols = uint32_t(t.cols());
    }
  }
  writer_->finish();
}

RunIdentity Driver::run_identity() const {
  RunIdentity id = {{"vkquant", version()},
                    {"input", content_fingerprint({opt_.model_path, opt_.tokenizer_path})},
                    {"calibration tokens", tokens_fingerprint(calib_.sequences)},
                    {"device", ctx_->probe().name},
                    {"chunk-tokens", std::to_string(opt_.chunk_tokens)}};
  std::string types;
  for (const auto& t : plan_.tensors) types += t.name + "=" + model::ggml_type_name(t.output_type) + ";";
  id.emplace_back("output types", tokens_fingerprint({std::vector<int32_t>(types.begin(), types.end())}));
  const nlohmann::json settings = settings_json(settings_);  // named: items() refers into it
  for (const auto& [key, value] : settings.items()) id.emplace_back(key, value.dump());
  return id;
}

uint32_t Driver::open_checkpoint() {
  if (!checkpoint_ || !checkpoint_->has_state()) {
    if (opt_.resume)
      tracker_->notice("--resume: no checkpoint of " + opt_.output_path + " (" + RunCheckpoint::directory_for(opt_.output_path) +
                       "); starting from the beginning");
    return 0;
  }
  if (!opt_.resume) {
    if (!opt_.force)
      throw Error(checkpoint_->directory() + " holds an interrupted run of this output (" +
                  std::to_string(checkpoint_->saved_blocks()) + " of " + std::to_string(src_->weights.config().n_layers) +
                  " blocks done): pass --resume to continue it, or --force to start over");
    checkpoint_->discard();
    return 0;
  }
  identity_ = run_identity();
  restore(checkpoint_->load(identity_));
  tracker_->notice("resuming from " + checkpoint_->directory() + ": " + std::to_string(first_block_) + " of " +
                   std::to_string(src_->weights.config().n_layers) + " blocks" + (head_done_ ? " and the output head" : "") +
                   " done");
  return first_block_;
}

void Driver::restore(ResumedRun run) {  // `run` by value: its items move into the driver
  RunProgress& p = run.progress;
  first_block_ = p.blocks_done;
  head_done_ = p.head_done;
  chunks_.clear();
  for (const auto& c : p.chunks) chunks_.push_back({size_t(c.first_seq), size_t(c.n_seqs), c.first_token, c.tokens});
  row_tile_bytes_ = std::min(row_tile_bytes_, std::max<uint64_t>(p.row_tile_bytes, kMinRowTileBytes));
  results_ = std::move(p.results);
  notes_ = std::move(p.notes);
  memory_retries_ = std::move(p.memory_retries);
  for (auto& item : run.items) {
    if (item.kind == SavedKind::packed) {
      solved_[item.name] = std::move(item.bytes);
    } else if (item.kind == SavedKind::norm) {
      std::vector<float> v(item.bytes.size() / sizeof(float));
      std::memcpy(v.data(), item.bytes.data(), v.size() * sizeof(float));
      folded_norms_[item.name] = std::move(v);
    } else {
      io::ImatrixEntry& e = imatrix_[item.name];
      e.in_sum2.resize(item.bytes.size() / sizeof(double));
      std::memcpy(e.in_sum2.data(), item.bytes.data(), e.in_sum2.size() * sizeof(double));
      e.count = item.count;
    }
  }
  // The chains in the order save_checkpoint gives them: quantized, then full precision.
  const bool need_d = opt_.alpha_mode == "sampled" || opt_.alpha > 0;
  const uint64_t tokens = chunks_.empty() ? 0 : chunks_.back().first_token + chunks_.back().tokens;
  const bool half = opt_.activations == "f16";
  const uint32_t dim = src_->weights.config().dim;
  const size_t chain_bytes = size_t(tokens) * dim * (half ? 2 : 4);
  if (run.chain_bytes != std::vector<uint64_t>(need_d ? 2 : 1, chain_bytes))
    throw Error(checkpoint_->directory() + ": the saved activations do not match this run's calibration tokens; "
                "delete the folder to start over");
  std::vector<std::pair<void*, size_t>> into;
  for (Activations* a : {&xq_, &xf_}) {
    if (into.size() == run.chain_bytes.size()) break;
    a->resize(tokens, dim, half);
    into.emplace_back(half ? static_cast<void*>(a->h.data()) : static_cast<void*>(a->x.data()), chain_bytes);
  }
  checkpoint_->read_chains(into);
}

void Driver::save_checkpoint(uint32_t blocks_done, bool head_done) {
  if (!checkpointing_) return;
  RunProgress p;
  p.blocks_done = blocks_done;
  p.head_done = head_done;
  for (const auto& c : chunks_) p.chunks.push_back({c.first_seq, c.n_seqs, c.first_token, c.tokens});
  p.row_tile_bytes = row_tile_bytes_;
  p.results = results_;
  p.notes = notes_;
  p.memory_retries = memory_retries_;
  std::vector<std::pair<const void*, size_t>> chains;
  for (const Activations* a : {&xq_, &xf_}) {
    if (a->dim == 0) continue;  // no full-precision chain without α
    chains.emplace_back(a->half ? static_cast<const void*>(a->h.data()) : static_cast<const void*>(a->x.data()),
                        a->half ? a->h.size() * 2 : a->x.size() * 4);
  }
  if (identity_.empty()) identity_ = run_identity();
  storing_ = true;
  checkpoint_->save(identity_, p, chains);
  storing_ = false;
  head_done_ = head_done;
  test_kill_point("checkpoint " + std::to_string(blocks_done) + (head_done ? " head" : ""));
}

QuantizeResult Driver::run() {
  validate_quantize_options(opt_);
  target_ = parse_output_target(opt_.type);
  if (!target_.generic && opt_.output_path.empty()) throw Error("-o: an output file is required for type " + opt_.type);
  if (target_.generic && opt_.eval_text_path.empty())
    throw Error("type " + opt_.type + " is a generic grid GGUF cannot store: give --eval-text to measure it");
  if (target_.generic && opt_.resume) throw Error("--resume: type " + opt_.type + " writes no file, so nothing is saved to resume");
  tracker_ = std::make_unique<ProgressTracker>(progress_, cancel_, 1.0);
  tracker_->begin("load", opt_.model_path, 1, 1);
  src_ = std::make_unique<ModelSource>(open_model_source(opt_.model_path, opt_.tokenizer_path));
  const model::LlamaConfig cfg = src_->weights.config();
  if (!target_.generic) {
    io::PlanOptions po;
    po.type = target_.gguf;
    po.allow_requantize = opt_.allow_requantize;
    po.imatrix = opt_.method != "rtn";  // every other method calibrates with the Gram matrices
    if (!opt_.token_embedding_type.empty())
      po.token_embedding_type = io::parse_tensor_type(opt_.token_embedding_type, "--token-embedding-type");
    if (!opt_.output_tensor_type.empty())
      po.output_tensor_type = io::parse_tensor_type(opt_.output_tensor_type, "--output-tensor-type");
    po.mixture = target_.mixture;
    for (const auto& spec : opt_.tensor_types) po.tensor_types.push_back(io::parse_tensor_type_override(spec));
    po.n_gqa = cfg.n_kv_heads > 0 ? cfg.n_heads / cfg.n_kv_heads : 1;
    const std::string arch = src_->weights.gguf()->get_string("general.architecture");
    po.n_expert = cfg.n_experts;
    po.is_70b = cfg.n_layers == 80 && ((arch == "llama" && cfg.n_heads != cfg.n_kv_heads) || arch == "qwen2");
    plan_ = io::plan_output(*src_->weights.gguf(), po);
    for (const auto& n : plan_.notes) notes_.push_back(n);
    if (plan_.count_fallbacks() > 0) tracker_->notice(plan_.notes.back());
    io::RunSettings rs;
    rs.vkquant_version = version();
    rs.method = opt_.method;
    rs.type = opt_.type;
    rs.lambda = opt_.lambda;
    rs.alpha_mode = opt_.alpha_mode;
    rs.alpha_beta = opt_.alpha_mode == "sampled" ? opt_.alpha_beta : 0;
    rs.alpha = opt_.alpha;
    rs.saliency = opt_.saliency;
    rs.damp = opt_.damp;
    rs.act_order = opt_.act_order;
    rs.static_groups = opt_.static_groups;
    rs.block = opt_.block;
    rs.beam_width = opt_.method == "beam" ? opt_.beam_width : 1;
    rs.scale_search = opt_.scale_search ? "search" : opt_.clip_search ? "clip" : "minmax";
    rs.k_refits = opt_.k_refits;
    rs.group_refits = opt_.group_refits;
    rs.min_expert_tokens = opt_.min_expert_tokens;
    rs.calib_file = std::filesystem::path(opt_.calib_path).filename().string();
    rs.calib_range = format_fraction_range({opt_.calib_begin, opt_.calib_end});
    rs.calib_protocol = opt_.calib_protocol == CalibrationProtocol::Llama ? "llama" : "sampled";
    rs.calib_rounded_embedding = opt_.calib_rounded_embedding;
    rs.activations = opt_.activations;
    rs.seed = opt_.seed;
    // Opened now: an existing OUT without --force fails before any calibration work.
    tracker_->begin("tokenize", opt_.calib_path, 1, 1);
    CalibrationOptions co{opt_.calib_seqs, opt_.calib_len, opt_.seed, {opt_.calib_begin, opt_.calib_end},
                          opt_.calib_protocol == CalibrationProtocol::Llama};
    calib_ = load_calibration_set(opt_.calib_path, *src_->tokenizer, co, cfg.context_length);
    rs.calib_seqs = calib_.sequences.size();
    rs.calib_seq_len = calib_.seq_len;
    settings_ = rs;
    if (!opt_.dry_run) {
      // Locked first: a second run on this output stops here, before it could touch the first's files.
      checkpoint_ = std::make_unique<RunCheckpoint>(opt_.output_path);
      checkpointing_ = opt_.checkpoint && opt_.eval_text_path.empty();
      writer_ = std::make_unique<io::QuantizedGgufWriter>(*src_->weights.gguf(), plan_, rs, opt_.output_path, opt_.force);
      if (opt_.write_report && !opt_.force && std::filesystem::exists(report_path_for(opt_.output_path)))
        throw Error(report_path_for(opt_.output_path) + " exists; pass --force to overwrite it");
    }
  } else {
    tracker_->begin("tokenize", opt_.calib_path, 1, 1);
    CalibrationOptions co{opt_.calib_seqs, opt_.calib_len, opt_.seed, {opt_.calib_begin, opt_.calib_end},
                          opt_.calib_protocol == CalibrationProtocol::Llama};
    calib_ = load_calibration_set(opt_.calib_path, *src_->tokenizer, co, cfg.context_length);
  }
  // Opened now, like the output: an existing file without --force fails before any calibration work.
  if (!opt_.imatrix_out_path.empty() && !opt_.dry_run)
    imatrix_writer_ = std::make_unique<io::ImatrixWriter>(opt_.imatrix_out_path, opt_.force);
  for (const auto& n : calib_.notes) {
    notes_.push_back(n);
    tracker_->notice(n);
  }
  chunks_ = make_chunks(calib_.sequences, opt_.chunk_tokens);
  uint64_t n_tokens = 0;
  for (const auto& c : chunks_) n_tokens += c.tokens;
  if (opt_.alpha_mode == "sampled") alphas_ = ref::sample_alpha(opt_.seed, calib_.sequences.size(), opt_.alpha_beta);

  vk::ContextOptions co;
  co.device = opt_.device;
  co.profile = opt_.profile;
  ctx_ = std::make_unique<vk::Context>(co);
  ctx_->set_memory_cap(opt_.max_device_memory);
  // A row tile is bound whole by the kernels, and several live at once: keep it within one binding and an
  // eighth of the cap.
  row_tile_bytes_ = std::min<uint64_t>(row_tile_bytes_, ctx_->probe().max_storage_buffer_range);
  if (opt_.max_device_memory) row_tile_bytes_ = std::min<uint64_t>(row_tile_bytes_, opt_.max_device_memory / 8);
  row_tile_bytes_ = std::max<uint64_t>(row_tile_bytes_, kMinRowTileBytes);
  const MemoryNeeds needs = estimate(n_tokens);
  if (opt_.dry_run) {
    QuantizeResult r;
    r.dry_run = true;
    r.device = ctx_->probe().name;
    r.calibration_tokens = n_tokens;
    r.memory = needs;
    r.notes = notes_;
    return r;
  }
  const uint32_t first_block = open_checkpoint();
  calibrating_ = true;
  const auto cancel_point = [this](uint32_t) { tracker_->check_cancelled(); };
  // Blocks reach the device when calibration reaches them (the output table when the head does); the
  // full-precision chain frees each block, and its embedding, once its activations have passed it.
  model_q_ = std::make_unique<forward::TransformerModel>(*ctx_, src_->weights, cancel_point, forward::Residency::on_demand);
  const bool need_d = opt_.alpha_mode == "sampled" || opt_.alpha > 0;
  if (need_d)
    model_f_ = std::make_unique<forward::TransformerModel>(*ctx_, src_->weights, cancel_point, forward::Residency::on_demand);

  // Work units: every pass over the calibration tokens, and as much again per stage for solving.
  const double passes_per_block = 4.0 * (need_d ? 2.0 : 1.0) + (need_d ? 2.0 : 1.0) + 4.0 * 0.5;
  stage_units_ = double(n_tokens);
  // A resumed run counts only what is left, so that its ETA is not skewed by the work restored.
  const double done_units = first_block > 0 || head_done_
                                ? double(n_tokens) * (1.0 + first_block * passes_per_block + (head_done_ ? 1.0 : 0.0))
                                : 0.0;
  tracker_ = std::make_unique<ProgressTracker>(progress_, cancel_, double(cfg.n_layers) * passes_per_block * n_tokens +
                                                                       2.0 * double(n_tokens) - done_units);
  keep_quantized_model_ = !opt_.eval_text_path.empty();
  if (done_units == 0) {
    tracker_->begin("embed", "calibration tokens", 1, 1);
    if (need_d) {
      embed_all(*model_f_, xf_);
      model_f_->release_embedding();
    }
    if (!target_.generic && opt_.calib_rounded_embedding) prepare_embedding(true);
    embed_all(*model_q_, xq_);
    if (!keep_quantized_model_) model_q_->discard_embedding();
    tracker_->advance(double(n_tokens));
  }
  for (uint32_t b = first_block; b < cfg.n_layers; ++b) {
    for (const Stage& st : stages(cfg)) solve_stage(b, st);
    tracker_->begin("propagate", "blk." + std::to_string(b), b + 1, cfg.n_layers);
    advance_block(*model_q_, att_q_, b, xq_);
    if (!keep_quantized_model_) model_q_->discard_block(b);  // its values are in solved_, for the file
    if (need_d) {
      advance_block(*model_f_, att_f_, b, xf_);
      model_f_->release_block(b);
    }
    save_checkpoint(b + 1, false);
  }
  if (!target_.generic && !head_done_) {
    if (!opt_.calib_rounded_embedding) prepare_embedding(keep_quantized_model_);  // for the file and the evaluation
    solve_head();
    save_checkpoint(cfg.n_layers, true);
  }
  QuantizeResult result;
  if (!target_.generic) {
    for (const auto& t : plan_.tensors)
      if (t.action == io::TensorAction::quantize && !solved_.count(t.name)) round_uncalibrated(t);
  }
  result.device = ctx_->probe().name;
  result.calibration_tokens = n_tokens;
  if (!opt_.eval_text_path.empty()) {
    tracker_->begin("evaluate", opt_.eval_text_path, 1, 1);
    auto scored = score_text(*model_q_, *src_->tokenizer,
                             read_text_range(opt_.eval_text_path, opt_.eval_begin, opt_.eval_end),
                             opt_.eval_protocol, opt_.eval_ctx, opt_.eval_max_windows, nullptr, cancel_);
    const auto& nll = scored.nll;
    const uint32_t ctxlen = scored.ctx;
    result.evaluated = true;
    result.evaluation.mean_nll = nll.mean();
    result.evaluation.perplexity = std::exp(nll.mean());
    result.evaluation.windows = nll.windows;
    result.evaluation.tokens = nll.tokens;
    result.evaluation.ctx = ctxlen;
    result.evaluation.device = result.device;
  }
  // Written after the evaluation: cancelling it (or its failing) leaves nothing half-done behind.
  if (!target_.generic) {
    write_output();
    result.output_path = opt_.output_path;
  }
  if (imatrix_writer_) {
    tracker_->begin("write", opt_.imatrix_out_path, 1, 1);
    imatrix_writer_->write(imatrix_, {opt_.calib_path}, uint32_t(calib_.sequences.size()), calib_.seq_len);
  }
  for (auto& [name, r] : results_) result.tensors.push_back(r);
  result.notes = notes_;
  result.peak_device_bytes = ctx_->peak_allocated_bytes();
  result.memory_retries = memory_retries_;
  result.memory = needs;
  result.peak_host_bytes = peak_resident_bytes();
  result.seconds = tracker_->elapsed_seconds();
  result.profile = kernel_times(ctx_->profile());
  if (!target_.generic && opt_.write_report) {
    RunReport rep;
    rep.settings = settings_;
    rep.input = opt_.model_path;
    rep.output = opt_.output_path;
    rep.total_seconds = result.seconds;
    rep.peak_device_bytes = result.peak_device_bytes;
    rep.peak_host_bytes = result.peak_host_bytes;
    rep.max_device_memory = opt_.max_device_memory;
    rep.pipelines_compiled = ctx_->compiled_pipeline_count();
    rep.pipeline_compile_seconds = ctx_->pipeline_compile_seconds();
    rep.memory_retries = memory_retries_;
    rep.profile = result.profile;
    rep.calibration_notes = calib_.notes;
    rep.plan_notes = plan_.notes;
    for (const auto& t : plan_.tensors) {
      const TensorResult& r = results_[t.name];
      TensorReport tr;
      tr.name = t.name;
      tr.type = r.type;
      tr.method = r.method;
      if (r.loss >= 0) tr.loss = r.loss;
      if (r.alpha_star >= 0) tr.alpha_star = r.alpha_star;
      tr.rows = r.rows;
      tr.cols = r.cols;
      tr.seconds = r.seconds;
      tr.fallback_reason = t.fallback ? t.reason : "";
      tr.damping_retries = r.damping_retries;
      if (r.k_refit_rows >= 0) tr.k_refit_rows = uint64_t(r.k_refit_rows);
      if (r.group_refit_rows >= 0) tr.group_refit_rows = uint64_t(r.group_refit_rows);
      tr.expert_tokens = r.expert_tokens;
      tr.pooled_experts = r.pooled_experts;
      rep.tensors.push_back(tr);
    }
    result.report_path = report_path_for(opt_.output_path);
    write_run_report(rep, result.report_path, opt_.force);
  }
  if (checkpoint_) checkpoint_->remove();  // OUT is complete: nothing to resume
  tracker_->finish();
  return result;
}

}  // namespace

namespace {
// Called inside a catch: whether the failure in flight is one a rerun can get past (an interruption, memory,
// the device, a full disk), so that the saved blocks are worth resuming.
bool rerun_can_get_past_current_failure() {
  try {
    throw;
  } catch (const Cancelled&) {
    return true;
  } catch (const vk::OutOfDeviceMemory&) {
    return true;
  } catch (const vk::OutOfHostMemory&) {
    return true;
  } catch (const vk::DeviceLost&) {
    return true;
  } catch (const std::bad_alloc&) {
    return true;
  } catch (const CheckpointWriteError&) {
    return true;
  } catch (...) {
    return false;
  }
}
}  // namespace

QuantizeResult run_quantize(const QuantizeOptions& options, const ProgressCallback& progress, const CancelFlag* cancel) {
  Driver d(options, progress, cancel);
  try {
    return d.run();
  } catch (...) {
    d.after_failure(rerun_can_get_past_current_failure());
    throw;
  }
}

}  // namespace vkq::calibrate
