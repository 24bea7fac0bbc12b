// A LLaMA-family transformer on Vulkan: weights uploaded per block (a calibration driver replaces
// a block's linears with set_linear_weights), and the forward pass as recordable steps —
// embed, forward_block (with a capture hook on the inputs of each group of linears),
// final_norm_and_logits — plus host conveniences: logits, per-sequence NLL, next-token argmax.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "forward/token_batch.hpp"
#include "kernels/add.hpp"
#include "kernels/attention.hpp"
#include "kernels/embedding_gather.hpp"
#include "kernels/gemm.hpp"
#include "kernels/log_softmax_nll.hpp"
#include "kernels/moe_route.hpp"
#include "kernels/rms_norm.hpp"
#include "kernels/rope.hpp"
#include "kernels/row_weights.hpp"
#include "kernels/scale_columns.hpp"
#include "kernels/swiglu.hpp"
#include "model/llama_config.hpp"
#include "model/model_weights.hpp"
#include "vk/buffer.hpp"
#include "vk/context.hpp"
#include "vk/stream.hpp"

namespace vkq::forward {

// The groups of linears that share an input (one Gram matrix each).
enum class LinearGroup { AttnQkv, AttnOutput, FfnGateUp, FfnDown };
const char* linear_group_name(LinearGroup g);

// Called inside forward_block with the device input (tokens x cols, packed fp32) of a group of
// linears: record work reading `x` into `s` (e.g. GramAccumulator::accumulate). Barriers are
// placed before and after the call; `x` is overwritten later in the same stream.
using CaptureFn =
    std::function<void(vk::Stream& s, LinearGroup group, const vk::Buffer& x, uint32_t tokens, uint32_t cols)>;

// Mixture-of-experts blocks: called for each expert e with the input of its gate/up (FfnGateUp) or down
// (FfnDown) linears — the block's input rows, with the rows of tokens not routed to e set to exactly 0
// (tokens x cols), so a Gram matrix accumulated from it sums over e's tokens only.
using ExpertCaptureFn = std::function<void(vk::Stream& s, LinearGroup group, uint32_t expert, const vk::Buffer& x,
                                           uint32_t tokens, uint32_t cols)>;

struct KvCache;

// What one pass of a block does besides computing its output.
struct BlockPass {
  const CaptureFn* capture = nullptr;  // sees the input of each group of linears (of an MoE block: the router's)
  // With a cache, K and V go to its rows [kv_offset, kv_offset + tokens) and the batch's key ranges
  // address cache rows; without one, kv_offset must be 0 and ranges address batch rows.
  KvCache* cache = nullptr;
  // The pass ends right after this group's capture (a calibration stage needs no more); x_out is
  // left unwritten.
  std::optional<LinearGroup> stop_after;
  // The block's attention output (tokens x q_dim) from an earlier pass over the same input with the same
  // norm and q/k/v weights: the pass starts from it, skipping the norm, q/k/v, RoPE and attention (and
  // the AttnQkv capture).
  const vk::Buffer* attention = nullptr;
  const ExpertCaptureFn* expert_capture = nullptr;  // MoE blocks: sees each expert's inputs
};

// A TokenBatch on the device, with the activation scratch a forward pass over it needs. Keep it
// alive until the stream that used it has been submitted.
struct DeviceBatch {
  uint32_t tokens = 0;
  uint32_t kv_offset = 0;  // TokenBatch::kv_offset
  vk::Buffer ids, positions, ranges;
  std::vector<int32_t> host_ids;  // for an embedding gathered on the host
  vk::Buffer ranges_swa;  // the ranges cut to the sliding window (config().swa_window > 0 only)
  vk::Buffer norm, q, k, v, att, proj, h, gate, up;
  vk::Buffer router_logits, route, moe_out, expert_in;  // config().moe() only
};

// Keys and values of every block for positions [0, capacity) of one sequence, so decoding a
// token runs the blocks on that token only.
struct KvCache {
  uint32_t capacity = 0;
  std::vector<vk::Buffer> k, v;  // per block: capacity x kv_dim
};

// Where the weights live. `all`: the constructor uploads every block and both tables. `on_demand`: a block
// (and the embedding or output table) is uploaded from the source at its first use, and a caller done with
// it can release it — the source must then outlive the model.
enum class Residency { all, on_demand };

class TransformerModel {
 public:
  // Uploads the final norm, and every block's weights (fp32), the embedding and classifier unless
  // `residency` is on_demand. `before_block` (optional) runs before each block's weights are uploaded:
  // a cancellation point for large models, whose upload takes a while.
  TransformerModel(vk::Context& ctx, const model::ModelWeights& weights,
                   const std::function<void(uint32_t block)>& before_block = {},
                   Residency residency = Residency::all);
  ~TransformerModel();

  // Frees a block's device weights (an on_demand model uploads them again if it is used later). Streams
  // that used them must have completed. vkq::Error if the model is not on_demand or the block was changed
  // with set_*: releasing would lose those values.
  void release_block(uint32_t block);
  // Likewise for the token embedding (the output table when they are tied is separate on the device).
  void release_embedding();
  // Frees a block's (or the embedding's) device weights even where set_* changed them, for a caller that
  // holds those values elsewhere and runs no further pass over them: a later use is a vkq::Error.
  void discard_block(uint32_t block);
  void discard_embedding();
  uint32_t resident_blocks() const;

  const model::LlamaConfig& config() const { return config_; }
  // The token embedding stays on the host (rows gathered there per batch) when one binding cannot span it
  // (maxStorageBufferRange) or it would take more than a quarter of the context's device-memory cap — as the
  // context is when the model is made.
  static bool embedding_on_host(const vk::Context& ctx, const model::LlamaConfig& config);
  vk::Context& context() const { return ctx_; }

  // Replaces a linear (attn_q, attn_k, attn_v, attn_output, ffn_gate, ffn_up, ffn_down) of `block`
  // with rows x cols fp32 values (row-major); vkq::Error for a wrong name, size or a non-finite value.
  void set_linear_weights(uint32_t block, const std::string& name, const std::vector<float>& w);
  std::vector<float> linear_weights(uint32_t block, const std::string& name);
  // Mixture-of-experts blocks: replaces expert `expert`'s ffn_gate, ffn_up or ffn_down (linear_shape's
  // rows x cols); vkq::Error for a dense model, a wrong name, expert, size or a non-finite value.
  void set_expert_weights(uint32_t block, const std::string& name, uint32_t expert, const std::vector<float>& w);
  // Replaces the token embedding (the lookup table) or the output head, vocab x dim each, e.g. with
  // the values a quantized file will hold; vkq::Error for a wrong size or a non-finite value.
  void set_embedding(const std::vector<float>& w);
  void set_output_weights(const std::vector<float>& w);
  // Replaces a block's RMSNorm weight (attn_norm or ffn_norm, dim values): AWQ folds its scales there.
  void set_norm_weights(uint32_t block, const std::string& name, const std::vector<float>& w);

  // Uploads positions, ranges, ids (checked against the vocabulary) and allocates scratch.
  DeviceBatch prepare(const TokenBatch& batch);
  // A tokens x dim activation buffer.
  vk::Buffer make_activations(uint32_t tokens, const std::string& label) const;

  // x_out = embedding rows of batch.ids. When the table stays on the host (embedding_on_host()), the rows are
  // written to x_out at once, not in stream order: nothing recorded in `s` may still use x_out.
  void embed(vk::Stream& s, const DeviceBatch& batch, vk::Buffer& x_out);
  // x_out = block(x_in); x_out may be x_in. `pass` adds captures, a KV cache, an early end or a
  // start from a saved attention output.
  void forward_block(vk::Stream& s, uint32_t block, const vk::Buffer& x_in, DeviceBatch& batch, vk::Buffer& x_out,
                     const BlockPass& pass = {});
  // The final RMSNorm of all rows of x (tokens x dim) into batch.norm, which it returns: the input of
  // the output head, whose Gram matrix calibrates the head.
  const vk::Buffer& final_norm(vk::Stream& s, const vk::Buffer& x, DeviceBatch& batch);
  // logits (rows x vocab, packed) of rows [first_row, first_row + rows) of x (tokens x dim).
  void final_norm_and_logits(vk::Stream& s, const vk::Buffer& x, DeviceBatch& batch, uint32_t first_row,
                             uint32_t rows, vk::Buffer& logits);

  // Host conveniences, each one submission (or a few for long vocabularies).
  std::vector<float> logits(const std::vector<int32_t>& ids);           // ids.size() x vocab
  std::vector<float> last_logits(const std::vector<int32_t>& ids);      // vocab
  KvCache make_kv_cache(uint32_t capacity);
  // Logits (vocab) after token `id` at `position`, reading positions < position from the cache.
  std::vector<float> decode_logits(KvCache& cache, int32_t id, uint32_t position);
  struct NllSum {
    double sum = 0;       // Σ -log p(ids[t] | ids[<t]) over t > first
    uint64_t count = 0;   // ids.size() - 1 - first predicted tokens
  };
  // Scores the predictions made at positions first .. ids.size() - 2 (first = 0: every token after
  // the first; llama-perplexity scores from the middle of its window).
  NllSum nll(const std::vector<int32_t>& ids, uint32_t first = 0);

 private:
  struct Block;
  // The block's weights, uploaded first when an on_demand model does not hold them.
  Block& resident_block(uint32_t block);
  std::unique_ptr<Block> upload_block(uint32_t block) const;
  vk::Buffer& embedding_table();
  const std::vector<float>& host_embedding_table();
  bool embedding_on_host() const { return embedding_on_host_; }
  vk::Buffer& output_table();
  // Runs embed + all blocks over `batch`, leaving the final activations in x.
  void run_blocks(vk::Stream& s, DeviceBatch& batch, vk::Buffer& x, KvCache* cache = nullptr);
  vk::Buffer& linear_buffer(uint32_t block, const std::string& name);
  void linear(vk::Stream& s, const vk::Buffer& x, const vk::Buffer& w, vk::Buffer& y, uint32_t tokens, uint32_t in,
              uint32_t out, uint64_t y_offset = 0, uint64_t w_offset = 0);
  // The mixture-of-experts FFN of an MoE block: d.norm (the ffn_norm output) in, d.moe_out out. Returns
  // false when pass.stop_after ended it at a capture.
  bool moe_ffn(vk::Stream& s, const Block& b, DeviceBatch& d, const BlockPass& pass);

  vk::Context& ctx_;
  model::LlamaConfig config_;
  const model::ModelWeights* source_ = nullptr;  // on_demand: where released weights come from again
  std::function<void(uint32_t block)> before_block_;
  std::vector<std::unique_ptr<Block>> blocks_;  // null: not resident (on_demand)
  std::vector<bool> discarded_;                  // per block: freed for good
  bool embedding_changed_ = false, embedding_discarded_ = false;
  vk::Buffer embedding_, output_norm_, output_;
  std::vector<float> host_embedding_;  // embedding_on_host(): the table
  bool embedding_on_host_ = false;     // decided once, when the model is made
  kernels::Gemm gemm_;
  kernels::RmsNorm rms_norm_;
  kernels::Rope rope_;
  std::unique_ptr<kernels::Rope> rope_swa_;  // the sliding-window blocks' RoPE (its own base, scale 1)
  kernels::Attention attention_;
  kernels::Swiglu swiglu_;
  kernels::ColumnScale column_scale_;
  vk::Buffer embed_scale_;  // dim copies of config().embed_scale, when it is not 1
  kernels::Add add_;
  kernels::EmbeddingGather gather_;
  kernels::LogSoftmaxNll nll_;
  kernels::MoeRoute moe_route_;
  kernels::RowWeights row_weights_;
};

}  // namespace vkq::forward
