#include "reference/forward_ref.hpp"

#include "reference/attention_ref.hpp"
#include "reference/elementwise_ref.hpp"
#include "reference/log_softmax_nll_ref.hpp"
#include "reference/rms_norm_ref.hpp"
#include "reference/rope_ref.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::ref {

namespace {

// y = x Wᵀ: x tokens x in, W out x in.
std::vector<double> linear(const std::vector<double>& x, const std::vector<double>& w, size_t in, size_t out) {
  if (w.size() != in * out || x.size() % in) throw Error("forward_ref: a linear's weight does not match its shape");
  const size_t tokens = x.size() / in;
  std::vector<double> y(tokens * out);
  for (size_t t = 0; t < tokens; ++t)
    for (size_t o = 0; o < out; ++o) {
      double s = 0;
      for (size_t i = 0; i < in; ++i) s += x[t * in + i] * w[o * in + i];
      y[t * out + o] = s;
    }
  return y;
}

}  // namespace

std::vector<double> forward_block_ref(const TransformerRefConfig& c, const TransformerRefBlock& b,
                                      const std::vector<double>& x, const std::vector<uint32_t>& lengths,
                                      BlockRefCapture* capture) {
  std::vector<int32_t> positions;
  std::vector<std::pair<uint32_t, uint32_t>> ranges;
  uint32_t start = 0;
  for (uint32_t len : lengths) {
    for (uint32_t i = 0; i < len; ++i) {
      positions.push_back(int32_t(i));
      ranges.push_back({start, start + i + 1});
    }
    start += len;
  }
  const size_t tokens = positions.size();
  if (x.size() != tokens * c.dim) throw Error("forward_block_ref: x is not tokens x dim");
  const size_t q_dim = c.n_heads * c.head_dim, kv_dim = c.n_kv_heads * c.head_dim;

  const std::vector<double> n = rms_norm_ref(x, b.attn_norm, tokens, c.dim, c.rms_eps);
  std::vector<double> q = linear(n, b.wq, c.dim, q_dim);
  std::vector<double> k = linear(n, b.wk, c.dim, kv_dim);
  const std::vector<double> v = linear(n, b.wv, c.dim, kv_dim);
  rope_ref(q, positions, {c.n_heads, c.head_dim, c.rope_dim, c.rope_freq_base, c.rope_scale, c.rope_neox});
  rope_ref(k, positions, {c.n_kv_heads, c.head_dim, c.rope_dim, c.rope_freq_base, c.rope_scale, c.rope_neox});
  const std::vector<double> att = attention_ref(q, k, v, ranges, {c.n_heads, c.n_kv_heads, c.head_dim});
  const std::vector<double> h = add_ref(x, linear(att, b.wo, q_dim, c.dim));

  const std::vector<double> m = rms_norm_ref(h, b.ffn_norm, tokens, c.dim, c.rms_eps);
  const std::vector<double> act =
      swiglu_ref(linear(m, b.w_gate, c.dim, c.hidden_dim), linear(m, b.w_up, c.dim, c.hidden_dim));
  if (capture) *capture = {n, att, m, act};
  return add_ref(h, linear(act, b.w_down, c.hidden_dim, c.dim));
}

std::vector<double> forward_logits_ref(const TransformerRefConfig& c, const TransformerRefWeights& w,
                                       const std::vector<int32_t>& tokens) {
  if (w.blocks.size() != c.n_layers) throw Error("forward_logits_ref: block count differs from the config");
  std::vector<double> x = embedding_gather_ref(w.embedding, tokens, c.dim);
  for (const auto& b : w.blocks) x = forward_block_ref(c, b, x, {uint32_t(tokens.size())});
  return linear(rms_norm_ref(x, w.output_norm, tokens.size(), c.dim, c.rms_eps), w.output, c.dim, c.vocab_size);
}

double sequence_nll_ref(const TransformerRefConfig& c, const TransformerRefWeights& w,
                        const std::vector<int32_t>& tokens) {
  if (tokens.size() < 2) return 0.0;
  std::vector<double> logits = forward_logits_ref(c, w, tokens);
  logits.resize((tokens.size() - 1) * c.vocab_size);  // the last position predicts nothing here
  const std::vector<double> nll =
      log_softmax_nll_ref(logits, std::vector<int32_t>(tokens.begin() + 1, tokens.end()), c.vocab_size);
  double s = 0;
  for (double x : nll) s += x;
  return s;
}

}  // namespace vkq::ref
