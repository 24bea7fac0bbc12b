#include "forward/transformer_model.hpp"

#include <algorithm>
#include <cmath>

namespace vkq::forward {

const char* linear_group_name(LinearGroup g) {
  switch (g) {
    case LinearGroup::AttnQkv: return "attn_qkv";
    case LinearGroup::AttnOutput: return "attn_output";
    case LinearGroup::FfnGateUp: return "ffn_gate_up";
    case LinearGroup::FfnDown: return "ffn_down";
  }
  return "?";
}

struct TransformerModel::Block {
  bool changed = false;  // set_* wrote it: the source no longer holds its values
  vk::Buffer attn_norm, ffn_norm;
  vk::Buffer post_attn_norm, post_ffn_norm;  // config().post_norms only
  vk::Buffer linears[7];  // in model::kBlockLinears order
  vk::Buffer qkv_bias[3];  // attn_q, attn_k, attn_v biases (config().qkv_bias only)
  vk::Buffer q_norm, k_norm;  // per-head RMSNorm weights of q and k (config().qk_norm only)
  // config().moe(): the router and the stacked experts (gate, up, down), in place of linears[4..6].
  vk::Buffer router, experts[3];
};

namespace {

int linear_index(const std::string& name) {
  for (int i = 0; i < 7; ++i)
    if (name == model::kBlockLinears[i]) return i;
  return -1;
}

kernels::RopeParams rope_params(const model::ModelWeights& w) {
  const model::LlamaConfig& c = w.config();
  kernels::RopeParams p{c.rope_dim, c.rope_freq_base, c.rope_scale, c.rope_layout == model::RopeLayout::NeoX, {}};
  for (float f : w.rope_freq_factors()) p.freq_factors.push_back(f);
  return p;
}

// Rows of logits computed per step in host conveniences: bounds the logits buffer to ~64 MiB.
uint32_t logit_rows_per_chunk(uint32_t vocab) { return std::max<uint32_t>(1, (16u << 20) / vocab); }

}  // namespace

TransformerModel::TransformerModel(vk::Context& ctx, const model::ModelWeights& w,
                                   const std::function<void(uint32_t block)>& before_block, Residency residency)
    : ctx_(ctx),
      config_(w.config()),
      source_(&w),
      before_block_(before_block),
      gemm_(ctx),
      rms_norm_(ctx),
      rope_(ctx, rope_params(w), w.config().context_length),
      attention_(ctx),
      swiglu_(ctx, w.config().ffn_activation == model::FfnActivation::GeluTanh ? kernels::GatedActivation::GeluTanh
                                                                                : kernels::GatedActivation::Silu),
      column_scale_(ctx),
      add_(ctx),
      gather_(ctx),
      nll_(ctx),
      moe_route_(ctx),
      row_weights_(ctx) {
  const auto& c = config_;
  if (c.swa_window > 0) {
    kernels::RopeParams p = rope_params(w);
    p.freq_base = c.rope_freq_base_swa, p.scale = 1.0;  // llama.cpp: rope_freq_{base,scale}_train_swa
    rope_swa_ = std::make_unique<kernels::Rope>(ctx, p, c.context_length);
  }
  if (c.embed_scale != 1.0)
    embed_scale_ = vk::upload_new(ctx, std::vector<float>(c.dim, float(c.embed_scale)), "embedding scale");
  output_norm_ = vk::upload_new(ctx, w.output_norm(), "output_norm");
  blocks_.resize(c.n_layers);
  discarded_.assign(c.n_layers, false);
  embedding_on_host_ = embedding_on_host(ctx, c);
  if (residency == Residency::on_demand) return;
  if (embedding_on_host()) host_embedding_table();
  else embedding_table();
  output_table();
  for (uint32_t b = 0; b < c.n_layers; ++b) blocks_[b] = upload_block(b);
  source_ = nullptr;  // everything is on the device: nothing reads the source again
}

std::unique_ptr<TransformerModel::Block> TransformerModel::upload_block(uint32_t b) const {
  const model::ModelWeights& w = *source_;
  const auto& c = config_;
  vk::Context& ctx = ctx_;
  if (before_block_) before_block_(b);
  auto blkw = std::make_unique<Block>();
  const std::string pre = "blk." + std::to_string(b) + ".";
  blkw->attn_norm = vk::upload_new(ctx, w.attn_norm(b), pre + "attn_norm");
  blkw->ffn_norm = vk::upload_new(ctx, w.ffn_norm(b), pre + "ffn_norm");
  for (int i = 0; i < (c.moe() ? 4 : 7); ++i)
    blkw->linears[i] = vk::upload_new(ctx, w.linear(b, model::kBlockLinears[i]).data, pre + model::kBlockLinears[i]);
  if (c.moe()) {
    blkw->router = vk::upload_new(ctx, w.router(b).data, pre + "ffn_gate_inp");
    const char* names[3] = {"ffn_gate_exps", "ffn_up_exps", "ffn_down_exps"};
    for (int i = 0; i < 3; ++i) blkw->experts[i] = vk::upload_new(ctx, w.experts(b, names[i]).data, pre + names[i]);
  }
  if (c.qkv_bias)
    for (int i = 0; i < 3; ++i)
      blkw->qkv_bias[i] = vk::upload_new(ctx, w.linear_bias(b, model::kBlockLinears[i]),
                                         pre + model::kBlockLinears[i] + ".bias");
  if (c.post_norms) {
    blkw->post_attn_norm = vk::upload_new(ctx, w.post_norm(b, "post_attention_norm"), pre + "post_attention_norm");
    blkw->post_ffn_norm = vk::upload_new(ctx, w.post_norm(b, "post_ffw_norm"), pre + "post_ffw_norm");
  }
  if (c.qk_norm) {
    blkw->q_norm = vk::upload_new(ctx, w.head_norm(b, "attn_q_norm"), pre + "attn_q_norm");
    blkw->k_norm = vk::upload_new(ctx, w.head_norm(b, "attn_k_norm"), pre + "attn_k_norm");
  }
  return blkw;
}

TransformerModel::~TransformerModel() = default;

TransformerModel::Block& TransformerModel::resident_block(uint32_t block) {
  if (block >= blocks_.size())
    throw Error("transformer: block " + std::to_string(block) + " out of range (" + std::to_string(blocks_.size()) +
                " blocks)");
  if (discarded_[block]) throw Error("transformer: blk." + std::to_string(block) + " was discarded; it cannot run again");
  if (!blocks_[block]) blocks_[block] = upload_block(block);
  return *blocks_[block];
}

bool TransformerModel::embedding_on_host(const vk::Context& ctx, const model::LlamaConfig& config) {
  const uint64_t bytes = uint64_t(config.vocab_size) * config.dim * 4;
  const uint64_t cap = ctx.memory_cap();
  return bytes > ctx.probe().max_storage_buffer_range || (cap && bytes > cap / 4);
}

vk::Buffer& TransformerModel::embedding_table() {
  if (embedding_discarded_) throw Error("transformer: the token embedding was discarded; it cannot be used again");
  if (!embedding_) embedding_ = vk::upload_new(ctx_, source_->token_embedding().data, "token_embd");
  return embedding_;
}

const std::vector<float>& TransformerModel::host_embedding_table() {
  if (embedding_discarded_) throw Error("transformer: the token embedding was discarded; it cannot be used again");
  if (host_embedding_.empty()) host_embedding_ = source_->token_embedding().data;
  return host_embedding_;
}

vk::Buffer& TransformerModel::output_table() {
  if (!output_) output_ = vk::upload_new(ctx_, source_->output().data, "output");
  return output_;
}

void TransformerModel::release_block(uint32_t block) {
  if (block >= blocks_.size()) throw Error("transformer: block " + std::to_string(block) + " out of range");
  if (!source_) throw Error("transformer: only a model made with Residency::on_demand releases blocks");
  if (blocks_[block] && blocks_[block]->changed)
    throw Error("transformer: blk." + std::to_string(block) + " was changed; releasing it would lose those weights");
  blocks_[block].reset();
}

void TransformerModel::release_embedding() {
  if (!source_) throw Error("transformer: only a model made with Residency::on_demand releases its embedding");
  if (embedding_changed_) throw Error("transformer: the token embedding was changed; releasing it would lose it");
  embedding_ = vk::Buffer();
  host_embedding_ = {};
}

void TransformerModel::discard_block(uint32_t block) {
  if (block >= blocks_.size()) throw Error("transformer: block " + std::to_string(block) + " out of range");
  blocks_[block].reset();
  discarded_[block] = true;
}

void TransformerModel::discard_embedding() {
  embedding_ = vk::Buffer();
  host_embedding_ = {};
  embedding_discarded_ = true;
}

uint32_t TransformerModel::resident_blocks() const {
  return uint32_t(std::count_if(blocks_.begin(), blocks_.end(), [](const auto& b) { return b != nullptr; }));
}

vk::Buffer& TransformerModel::linear_buffer(uint32_t block, const std::string& name) {
  const int i = linear_index(name);
  if (i < 0) throw Error("transformer: unknown linear '" + name + "' (expected one of attn_q, attn_k, attn_v, attn_output, ffn_gate, ffn_up, ffn_down)");
  if (config_.moe() && i >= 4)
    throw Error("transformer: blk." + std::to_string(block) + "." + name + " is one linear per expert; use set_expert_weights");
  return resident_block(block).linears[i];
}

void TransformerModel::set_expert_weights(uint32_t block, const std::string& name, uint32_t expert,
                                          const std::vector<float>& w) {
  const int i = linear_index(name) - 4;
  const std::string what = "blk." + std::to_string(block) + "." + name + " of expert " + std::to_string(expert);
  if (!config_.moe() || i < 0 || i > 2 || expert >= config_.n_experts)
    throw Error("transformer: no " + what + " (experts: ffn_gate, ffn_up, ffn_down of experts 0 .. n_experts - 1)");
  const model::LinearShape sh = model::linear_shape(config_, name);
  const size_t count = size_t(sh.rows) * sh.cols;
  if (w.size() != count)
    throw Error("transformer: " + what + " needs " + std::to_string(sh.rows) + " x " + std::to_string(sh.cols) +
                " values, got " + std::to_string(w.size()));
  for (size_t k = 0; k < w.size(); ++k)
    if (!std::isfinite(w[k])) throw Error("transformer: " + what + " holds a non-finite value at row " + std::to_string(k / sh.cols));
  Block& b = resident_block(block);
  vk::upload(ctx_, b.experts[i], w.data(), count * sizeof(float), uint64_t(expert) * count * sizeof(float));
  b.changed = true;
}

void TransformerModel::set_linear_weights(uint32_t block, const std::string& name, const std::vector<float>& w) {
  if (name == "attn_qkv" || name == "ffn_gate_up") {  // a fused linear: each part to its buffer
    const model::LinearShape whole = model::linear_shape(config_, name);
    if (w.size() != size_t(whole.rows) * whole.cols)
      throw Error("transformer: blk." + std::to_string(block) + "." + name + " needs " + std::to_string(whole.rows) +
                  " x " + std::to_string(whole.cols) + " values, got " + std::to_string(w.size()));
    const std::vector<std::string> parts =
        name == "attn_qkv" ? std::vector<std::string>{"attn_q", "attn_k", "attn_v"} : std::vector<std::string>{"ffn_gate", "ffn_up"};
    size_t at = 0;
    for (const auto& p : parts) {
      const model::LinearShape s = model::linear_shape(config_, p);
      const size_t n = size_t(s.rows) * s.cols;
      set_linear_weights(block, p, std::vector<float>(w.begin() + ptrdiff_t(at), w.begin() + ptrdiff_t(at + n)));
      at += n;
    }
    return;
  }
  vk::Buffer& buf = linear_buffer(block, name);
  const model::LinearShape s = model::linear_shape(config_, name);
  const std::string what = "blk." + std::to_string(block) + "." + name;
  if (w.size() != size_t(s.rows) * s.cols)
    throw Error("transformer: " + what + " needs " + std::to_string(s.rows) + " x " + std::to_string(s.cols) +
                " values, got " + std::to_string(w.size()));
  for (size_t i = 0; i < w.size(); ++i)
    if (!std::isfinite(w[i]))
      throw Error("transformer: " + what + " holds a non-finite value at row " + std::to_string(i / s.cols) +
                  ", column " + std::to_string(i % s.cols));
  vk::upload(ctx_, buf, w.data(), w.size() * sizeof(float));
  blocks_[block]->changed = true;
}

namespace {
void check_table(const std::vector<float>& w, uint64_t rows, uint64_t cols, const std::string& what) {
  if (w.size() != rows * cols)
    throw Error("transformer: " + what + " needs " + std::to_string(rows) + " x " + std::to_string(cols) + " values, got " +
                std::to_string(w.size()));
  for (size_t i = 0; i < w.size(); ++i)
    if (!std::isfinite(w[i]))
      throw Error("transformer: " + what + " holds a non-finite value at row " + std::to_string(i / cols));
}
}  // namespace

void TransformerModel::set_embedding(const std::vector<float>& w) {
  check_table(w, config_.vocab_size, config_.dim, "token_embd");
  if (embedding_on_host()) {
    host_embedding_ = w;
  } else {
    if (!embedding_) embedding_ = vk::Buffer(ctx_, w.size() * sizeof(float), vk::MemoryUse::Device, "token_embd");
    vk::upload(ctx_, embedding_, w.data(), w.size() * sizeof(float));
  }
  embedding_changed_ = true;
  embedding_discarded_ = false;  // it holds values again
}

void TransformerModel::set_output_weights(const std::vector<float>& w) {
  check_table(w, config_.vocab_size, config_.dim, "output");
  if (!output_) output_ = vk::Buffer(ctx_, w.size() * sizeof(float), vk::MemoryUse::Device, "output");
  vk::upload(ctx_, output_, w.data(), w.size() * sizeof(float));
}

void TransformerModel::set_norm_weights(uint32_t block, const std::string& name, const std::vector<float>& w) {
  if (block >= blocks_.size()) throw Error("transformer: block " + std::to_string(block) + " does not exist");
  if (name != "attn_norm" && name != "ffn_norm")
    throw Error("transformer: '" + name + "' is not a block norm (attn_norm, ffn_norm)");
  if (w.size() != config_.dim)
    throw Error("transformer: blk." + std::to_string(block) + "." + name + " needs " + std::to_string(config_.dim) +
                " values, got " + std::to_string(w.size()));
  for (float v : w)
    if (!std::isfinite(v)) throw Error("transformer: blk." + std::to_string(block) + "." + name + " holds a non-finite value");
  Block& b = resident_block(block);
  b.changed = true;
  vk::upload(ctx_, name == "attn_norm" ? b.attn_norm : b.ffn_norm, w.data(), w.size() * sizeof(float));
}

std::vector<float> TransformerModel::linear_weights(uint32_t block, const std::string& name) {
  const vk::Buffer& buf = linear_buffer(block, name);
  const model::LinearShape s = model::linear_shape(config_, name);
  return vk::download_all<float>(ctx_, buf, size_t(s.rows) * s.cols);
}

vk::Buffer TransformerModel::make_activations(uint32_t tokens, const std::string& label) const {
  return vk::Buffer(ctx_, uint64_t(std::max(tokens, 1u)) * config_.dim * 4, vk::MemoryUse::Device, label);
}

DeviceBatch TransformerModel::prepare(const TokenBatch& b) {
  const auto& c = config_;
  const uint32_t n = b.tokens();
  if (n == 0) throw Error("transformer: empty token batch");
  if (b.ranges.size() != n) throw Error("transformer: token batch has positions and ranges of different lengths");
  if (!b.ids.empty() && b.ids.size() != n) throw Error("transformer: token batch has ids and positions of different lengths");
  int32_t max_pos = 0;
  for (uint32_t t = 0; t < n; ++t) {
    if (b.positions[t] < 0) throw Error("transformer: negative position in the token batch");
    if (b.ranges[t].begin > b.ranges[t].end || b.ranges[t].end > uint64_t(b.kv_offset) + n)
      throw Error("transformer: key range of token " + std::to_string(t) + " leaves the batch");
    max_pos = std::max(max_pos, b.positions[t]);
  }
  for (int32_t id : b.ids)
    if (id < 0 || uint32_t(id) >= c.vocab_size)
      throw Error("transformer: token id " + std::to_string(id) + " outside the vocabulary of " +
                  std::to_string(c.vocab_size));
  rope_.ensure_positions(uint32_t(max_pos) + 1);
  if (rope_swa_) rope_swa_->ensure_positions(uint32_t(max_pos) + 1);
  DeviceBatch d;
  d.tokens = n;
  d.kv_offset = b.kv_offset;
  if (!b.ids.empty()) d.ids = vk::upload_new(ctx_, b.ids, "token ids");
  d.host_ids = b.ids;
  d.positions = vk::upload_new(ctx_, b.positions, "positions");
  d.ranges = vk::upload_new(ctx_, b.ranges, "key ranges");
  if (c.swa_window > 0) {
    // Keys lie at consecutive positions ending with the query's own (end − 1): the window keeps the
    // last swa_window of them, as llama.cpp masks p_query − p_key >= n_swa.
    std::vector<kernels::KeyRange> swa = b.ranges;
    for (auto& r : swa) r.begin = std::max(r.begin, r.end > c.swa_window ? r.end - c.swa_window : 0u);
    d.ranges_swa = vk::upload_new(ctx_, swa, "sliding-window key ranges");
  }
  auto alloc = [&](uint32_t width, const char* label) {
    return vk::Buffer(ctx_, uint64_t(n) * width * 4, vk::MemoryUse::Device, label);
  };
  d.norm = alloc(c.dim, "normed x");
  d.q = alloc(c.q_dim(), "q");
  d.k = alloc(c.kv_dim(), "k");
  d.v = alloc(c.kv_dim(), "v");
  d.att = alloc(c.q_dim(), "attention out");
  d.proj = alloc(c.dim, "projection out");
  d.h = alloc(c.dim, "residual h");
  d.gate = alloc(c.hidden_dim, "ffn gate");
  d.up = alloc(c.hidden_dim, "ffn up");
  if (c.moe()) {
    d.router_logits = alloc(c.n_experts, "router logits");
    d.route = alloc(c.n_experts, "expert weights");
    d.moe_out = alloc(c.dim, "experts' mixture");
    d.expert_in = alloc(std::max(c.dim, c.hidden_dim), "an expert's routed rows");
  }
  return d;
}

void TransformerModel::linear(vk::Stream& s, const vk::Buffer& x, const vk::Buffer& w, vk::Buffer& y, uint32_t tokens,
                              uint32_t in, uint32_t out, uint64_t y_offset, uint64_t w_offset) {
  kernels::GemmShape g;
  g.m = tokens, g.n = out, g.k = in;  // y (tokens x out) = x (tokens x in) · Wᵀ, W out x in
  g.c_offset = y_offset;
  g.b_offset = w_offset;
  gemm_.run(s, x, w, y, g);
}

void TransformerModel::embed(vk::Stream& s, const DeviceBatch& batch, vk::Buffer& x_out) {
  if (!batch.ids) throw Error("transformer: embed() needs a batch with token ids");
  if (embedding_on_host()) {  // the rows gathered on the host, written to x_out at once
    std::vector<float> rows(uint64_t(batch.tokens) * config_.dim);
    if (embedding_discarded_) throw Error("transformer: the token embedding was discarded; it cannot be used again");
    if (host_embedding_.empty() && source_) {  // unchanged: decoded from the mapped file, row by row
      source_->token_embedding_rows(batch.host_ids, rows.data());
    } else {
      const std::vector<float>& table = host_embedding_table();
      for (uint32_t t = 0; t < batch.tokens; ++t)
        std::copy_n(table.begin() + ptrdiff_t(uint64_t(batch.host_ids[t]) * config_.dim), config_.dim,
                    rows.begin() + ptrdiff_t(uint64_t(t) * config_.dim));
    }
    vk::upload(ctx_, x_out, rows.data(), rows.size() * sizeof(float));
  } else {
    gather_.run(s, embedding_table(), batch.ids, x_out, batch.tokens, config_.dim, config_.vocab_size);
  }
  s.barrier();
  if (embed_scale_) {  // gemma3: x · √dim (ggml_scale)
    kernels::ColumnScaleShape sh;
    sh.m = batch.tokens, sh.n = config_.dim;
    column_scale_.run(s, x_out, embed_scale_, sh);
    s.barrier();
  }
}

void TransformerModel::forward_block(vk::Stream& s, uint32_t block, const vk::Buffer& x_in, DeviceBatch& d,
                                     vk::Buffer& x_out, const BlockPass& pass) {
  const auto& c = config_;
  const CaptureFn* capture = pass.capture;
  KvCache* cache = pass.cache;
  if (pass.attention && (cache || pass.stop_after == LinearGroup::AttnQkv))
    throw Error("transformer: a pass from a saved attention output has no KV cache and no AttnQkv capture");
  if (block >= blocks_.size()) throw Error("transformer: block " + std::to_string(block) + " out of range");
  if (!cache && d.kv_offset != 0) throw Error("transformer: a batch with a KV offset needs a KV cache");
  if (cache && (cache->k.size() != blocks_.size() || uint64_t(d.kv_offset) + d.tokens > cache->capacity))
    throw Error("transformer: KV cache of " + std::to_string(cache ? cache->capacity : 0) +
                " positions cannot hold rows up to " + std::to_string(uint64_t(d.kv_offset) + d.tokens));
  vk::Buffer& kb = cache ? cache->k[block] : d.k;
  vk::Buffer& vb = cache ? cache->v[block] : d.v;
  const uint32_t kv_off = cache ? d.kv_offset * c.kv_dim() : 0;  // elements
  const Block& b = resident_block(block);
  const uint32_t n = d.tokens;
  // Returns true when the pass ends at this group.
  auto captured = [&](LinearGroup g, const vk::Buffer& x, uint32_t cols) {
    if (capture && *capture) {
      (*capture)(s, g, x, n, cols);
      s.barrier();
    }
    return pass.stop_after == g;
  };
  const vk::Buffer& att = pass.attention ? *pass.attention : d.att;
  if (pass.attention) {
    if (att.size() < uint64_t(n) * c.q_dim() * 4)
      throw Error("transformer: the saved attention output holds fewer than " + std::to_string(n) + " rows");
  } else {
    // Attention: norm -> q, k, v -> rope -> attention -> o -> residual.
    rms_norm_.run(s, x_in, b.attn_norm, d.norm, {n, c.dim, 0, 0, 0, 0, float(c.rms_eps)});
    s.barrier();
    if (captured(LinearGroup::AttnQkv, d.norm, c.dim)) return;
    linear(s, d.norm, b.linears[0], d.q, n, c.dim, c.q_dim());
    linear(s, d.norm, b.linears[1], kb, n, c.dim, c.kv_dim(), kv_off);
    linear(s, d.norm, b.linears[2], vb, n, c.dim, c.kv_dim(), kv_off);
    s.barrier();
    if (c.qkv_bias) {  // qwen2: y = x·Wᵀ + b for q, k and v
      add_.add_row_bias(s, d.q, b.qkv_bias[0], n, c.q_dim());
      add_.add_row_bias(s, kb, b.qkv_bias[1], n, c.kv_dim(), kv_off);
      add_.add_row_bias(s, vb, b.qkv_bias[2], n, c.kv_dim(), kv_off);
      s.barrier();
    }
    if (c.qk_norm) {  // qwen3: every head of q and k RMS-normalised (in place) before RoPE
      const float eps = float(c.rms_eps);
      rms_norm_.run(s, d.q, b.q_norm, d.q, {n * c.n_heads, c.head_dim, 0, 0, 0, 0, eps});
      rms_norm_.run(s, kb, b.k_norm, kb, {n * c.n_kv_heads, c.head_dim, kv_off, 0, kv_off, 0, eps});
      s.barrier();
    }
    // gemma3: sliding-window blocks attend to the last swa_window keys, with their own RoPE.
    const bool swa = c.swa_window > 0 && c.swa_layers[block];
    kernels::Rope& rope = swa ? *rope_swa_ : rope_;
    rope.run(s, d.q, d.positions, {n, c.n_heads, c.head_dim, 0, 0});
    rope.run(s, kb, d.positions, {n, c.n_kv_heads, c.head_dim, kv_off, 0});
    s.barrier();
    kernels::AttentionShape as;
    as.tokens = n, as.heads = c.n_heads, as.kv_heads = c.n_kv_heads, as.head_dim = c.head_dim;
    as.kv_rows = cache ? d.kv_offset + n : n;
    as.scale = float(c.attn_scale);
    attention_.run(s, d.q, kb, vb, d.att, swa ? d.ranges_swa : d.ranges, as);
    s.barrier();
  }
  if (captured(LinearGroup::AttnOutput, att, c.q_dim())) return;
  linear(s, att, b.linears[3], d.proj, n, c.q_dim(), c.dim);
  s.barrier();
  if (c.post_norms) {  // gemma3: the attention output normalised before the residual add
    rms_norm_.run(s, d.proj, b.post_attn_norm, d.proj, {n, c.dim, 0, 0, 0, 0, float(c.rms_eps)});
    s.barrier();
  }
  add_.run(s, x_in, d.proj, d.h, n * c.dim);
  s.barrier();
  // FFN: norm -> gate, up -> swiglu -> down -> residual.
  rms_norm_.run(s, d.h, b.ffn_norm, d.norm, {n, c.dim, 0, 0, 0, 0, float(c.rms_eps)});
  s.barrier();
  if (c.moe()) {  // the router's input; the experts' inputs go to pass.expert_capture
    if (capture && *capture) {
      (*capture)(s, LinearGroup::FfnGateUp, d.norm, n, c.dim);
      s.barrier();
    }
    if (!moe_ffn(s, b, d, pass)) return;
    if (c.post_norms) throw Error("transformer: post-FFN norms with experts are not supported");
    add_.run(s, d.h, d.moe_out, x_out, n * c.dim);
    s.barrier();
    return;
  }
  if (captured(LinearGroup::FfnGateUp, d.norm, c.dim)) return;
  linear(s, d.norm, b.linears[4], d.gate, n, c.dim, c.hidden_dim);
  linear(s, d.norm, b.linears[5], d.up, n, c.dim, c.hidden_dim);
  s.barrier();
  swiglu_.run(s, d.gate, d.up, d.gate, n * c.hidden_dim);
  s.barrier();
  if (captured(LinearGroup::FfnDown, d.gate, c.hidden_dim)) return;
  linear(s, d.gate, b.linears[6], d.proj, n, c.hidden_dim, c.dim);
  s.barrier();
  if (c.post_norms) {  // gemma3: the FFN output normalised before the residual add
    rms_norm_.run(s, d.proj, b.post_ffn_norm, d.proj, {n, c.dim, 0, 0, 0, 0, float(c.rms_eps)});
    s.barrier();
  }
  add_.run(s, d.h, d.proj, x_out, n * c.dim);
  s.barrier();
}

bool TransformerModel::moe_ffn(vk::Stream& s, const Block& b, DeviceBatch& d, const BlockPass& pass) {
  // Every expert runs on every token and the routing weights, exactly 0 for the experts a token does not
  // use, mix the outputs: one fixed sequence of dispatches (no host round trip for the routing), at
  // n_experts / n_experts_used times the FFN work of a gathered pass.
  const auto& c = config_;
  const uint32_t n = d.tokens, ff = c.hidden_dim;
  linear(s, d.norm, b.router, d.router_logits, n, c.dim, c.n_experts);
  s.barrier();
  moe_route_.run(s, d.router_logits, d.route, {n, c.n_experts, c.n_experts_used, true, 0.0f});
  s.barrier();
  auto capture_expert = [&](LinearGroup g, uint32_t e, const vk::Buffer& x, uint32_t cols) {
    if (!pass.expert_capture || !*pass.expert_capture) return;
    row_weights_.mask(s, x, d.route, d.expert_in, {n, cols, c.n_experts, e});
    s.barrier();
    (*pass.expert_capture)(s, g, e, d.expert_in, n, cols);
    s.barrier();
  };
  if (pass.stop_after == LinearGroup::FfnGateUp) {  // the experts' inputs are the routed rows of d.norm
    for (uint32_t e = 0; e < c.n_experts; ++e) capture_expert(LinearGroup::FfnGateUp, e, d.norm, c.dim);
    return false;
  }
  for (uint32_t e = 0; e < c.n_experts; ++e) {
    capture_expert(LinearGroup::FfnGateUp, e, d.norm, c.dim);
    const uint64_t in_off = uint64_t(e) * ff * c.dim;  // expert e's rows of the gate / up / down stacks
    linear(s, d.norm, b.experts[0], d.gate, n, c.dim, ff, 0, in_off);
    linear(s, d.norm, b.experts[1], d.up, n, c.dim, ff, 0, in_off);
    s.barrier();
    swiglu_.run(s, d.gate, d.up, d.gate, n * ff);
    s.barrier();
    capture_expert(LinearGroup::FfnDown, e, d.gate, ff);
    if (pass.stop_after == LinearGroup::FfnDown) continue;
    linear(s, d.gate, b.experts[2], d.proj, n, ff, c.dim, 0, uint64_t(e) * c.dim * ff);
    s.barrier();
    row_weights_.scale(s, d.proj, d.route, d.moe_out, {n, c.dim, c.n_experts, e}, e > 0);
    s.barrier();
  }
  return pass.stop_after != LinearGroup::FfnDown;
}

const vk::Buffer& TransformerModel::final_norm(vk::Stream& s, const vk::Buffer& x, DeviceBatch& d) {
  rms_norm_.run(s, x, output_norm_, d.norm, {d.tokens, config_.dim, 0, 0, 0, 0, float(config_.rms_eps)});
  s.barrier();
  return d.norm;
}

void TransformerModel::final_norm_and_logits(vk::Stream& s, const vk::Buffer& x, DeviceBatch& d, uint32_t first_row,
                                             uint32_t rows, vk::Buffer& logits) {
  const auto& c = config_;
  if (uint64_t(first_row) + rows > d.tokens) throw Error("transformer: logit rows outside the batch");
  if (rows == 0) return;
  rms_norm_.run(s, x, output_norm_, d.norm, {rows, c.dim, first_row * c.dim, 0, 0, 0, float(c.rms_eps)});
  s.barrier();
  linear(s, d.norm, output_table(), logits, rows, c.dim, c.vocab_size);
  s.barrier();
}

void TransformerModel::run_blocks(vk::Stream& s, DeviceBatch& d, vk::Buffer& x, KvCache* cache) {
  embed(s, d, x);
  for (uint32_t b = 0; b < config_.n_layers; ++b) forward_block(s, b, x, d, x, {nullptr, cache});
}

KvCache TransformerModel::make_kv_cache(uint32_t capacity) {
  if (capacity == 0) throw Error("transformer: a KV cache needs at least one position");
  KvCache c;
  c.capacity = capacity;
  const uint64_t bytes = uint64_t(capacity) * config_.kv_dim() * 4;
  for (uint32_t b = 0; b < config_.n_layers; ++b) {
    c.k.emplace_back(ctx_, bytes, vk::MemoryUse::Device, "k cache " + std::to_string(b));
    c.v.emplace_back(ctx_, bytes, vk::MemoryUse::Device, "v cache " + std::to_string(b));
  }
  return c;
}

std::vector<float> TransformerModel::decode_logits(KvCache& cache, int32_t id, uint32_t position) {
  DeviceBatch d = prepare(TokenBatch::decode_step(id, position));
  vk::Buffer x = make_activations(1, "x");
  vk::Buffer lb(ctx_, uint64_t(config_.vocab_size) * 4, vk::MemoryUse::Device, "logits");
  vk::Stream s(ctx_);
  run_blocks(s, d, x, &cache);
  final_norm_and_logits(s, x, d, 0, 1, lb);
  s.submit_and_wait();
  return vk::download_all<float>(ctx_, lb, config_.vocab_size);
}

std::vector<float> TransformerModel::logits(const std::vector<int32_t>& ids) {
  DeviceBatch d = prepare(TokenBatch::from_ids(ids));
  vk::Buffer x = make_activations(d.tokens, "x");
  vk::Stream s(ctx_);
  run_blocks(s, d, x);
  const uint32_t vocab = config_.vocab_size, chunk = logit_rows_per_chunk(vocab);
  vk::Buffer lb(ctx_, uint64_t(std::min(chunk, d.tokens)) * vocab * 4, vk::MemoryUse::Device, "logits");
  std::vector<float> out(size_t(d.tokens) * vocab);
  for (uint32_t r0 = 0; r0 < d.tokens; r0 += chunk) {
    const uint32_t rows = std::min(chunk, d.tokens - r0);
    final_norm_and_logits(s, x, d, r0, rows, lb);
    s.submit_and_wait();
    vk::download(ctx_, lb, out.data() + size_t(r0) * vocab, uint64_t(rows) * vocab * 4);
  }
  return out;
}

std::vector<float> TransformerModel::last_logits(const std::vector<int32_t>& ids) {
  DeviceBatch d = prepare(TokenBatch::from_ids(ids));
  vk::Buffer x = make_activations(d.tokens, "x");
  vk::Buffer lb(ctx_, uint64_t(config_.vocab_size) * 4, vk::MemoryUse::Device, "logits");
  vk::Stream s(ctx_);
  run_blocks(s, d, x);
  final_norm_and_logits(s, x, d, d.tokens - 1, 1, lb);
  s.submit_and_wait();
  return vk::download_all<float>(ctx_, lb, config_.vocab_size);
}

TransformerModel::NllSum TransformerModel::nll(const std::vector<int32_t>& ids, uint32_t first) {
  if (ids.size() < size_t(first) + 2) return {};
  DeviceBatch d = prepare(TokenBatch::from_ids(ids));
  const uint32_t predicted = d.tokens - 1 - first, vocab = config_.vocab_size, chunk = logit_rows_per_chunk(vocab);
  std::vector<int32_t> targets(ids.begin() + 1 + first, ids.end());
  vk::Buffer tb = vk::upload_new(ctx_, targets, "nll targets");
  vk::Buffer nb(ctx_, uint64_t(predicted) * 4, vk::MemoryUse::Device, "nll");
  vk::Buffer x = make_activations(d.tokens, "x");
  vk::Buffer lb(ctx_, uint64_t(std::min(chunk, predicted)) * vocab * 4, vk::MemoryUse::Device, "logits");
  vk::Stream s(ctx_);
  run_blocks(s, d, x);
  for (uint32_t r0 = 0; r0 < predicted; r0 += chunk) {
    const uint32_t rows = std::min(chunk, predicted - r0);
    final_norm_and_logits(s, x, d, first + r0, rows, lb);
    nll_.run(s, lb, tb, nb, {rows, vocab, 0, 0, r0});
    s.barrier();  // the next chunk rewrites the logits
  }
  s.submit_and_wait();
  NllSum r;
  for (float v : vk::download_all<float>(ctx_, nb, predicted)) r.sum += double(v);
  r.count = predicted;
  return r;
}

}  // namespace vkq::forward
