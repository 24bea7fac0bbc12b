// llama2.c legacy checkpoint reader. Layout (llama2.c run.c, memory_map_weights): header, then
// each weight kind for all layers before the next kind, then rms_final, freq_cis tables, and the
// classifier only when it is not shared with the embedding.
#include "model/llama2c.hpp"

#include <cstring>
#include <limits>

#include "model/byte_reader.hpp"
#include "model/mapped_file.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::model {
namespace {

constexpr uint64_t kHeaderBytes = 7 * sizeof(int32_t);
constexpr uint32_t kVersionedMagic = 0x616b3432;  // "ak42": newer llama2.c export formats

[[noreturn]] void fail(const std::string& path, const std::string& problem) { throw Error(path + ": " + problem); }

std::string describe(const Llama2cConfig& c) {
  return "dim=" + std::to_string(c.dim) + " hidden_dim=" + std::to_string(c.hidden_dim) +
         " n_layers=" + std::to_string(c.n_layers) + " n_heads=" + std::to_string(c.n_heads) +
         " n_kv_heads=" + std::to_string(c.n_kv_heads) + " vocab_size=" + std::to_string(c.vocab_size) +
         " seq_len=" + std::to_string(c.seq_len);
}

Llama2cConfig read_config(ByteReader& r, const std::string& path) {
  int32_t h[7];
  for (int32_t& v : h) v = r.read<int32_t>("the 7-int32 llama2.c header");
  if (uint32_t(h[0]) == kVersionedMagic)
    fail(path, "this is a versioned llama2.c export (magic 'ak42'); only the legacy version-0 checkpoint is supported");
  Llama2cConfig c;
  c.dim = h[0];
  c.hidden_dim = h[1];
  c.n_layers = h[2];
  c.n_heads = h[3];
  c.n_kv_heads = h[4];
  c.vocab_size = h[5];
  c.seq_len = h[6];
  if (c.dim <= 0 || c.hidden_dim <= 0 || c.n_layers <= 0 || c.n_heads <= 0 || c.n_kv_heads <= 0 || c.seq_len <= 0 ||
      c.vocab_size == 0 || c.vocab_size == std::numeric_limits<int32_t>::min())
    fail(path, "invalid llama2.c header (" + describe(c) + "): sizes must be positive and vocab_size nonzero");
  c.shared_classifier = c.vocab_size > 0;
  if (c.vocab_size < 0) c.vocab_size = -c.vocab_size;
  if (c.dim % c.n_heads != 0)
    fail(path, "dim " + std::to_string(c.dim) + " is not a multiple of n_heads " + std::to_string(c.n_heads));
  if (c.n_kv_heads > c.n_heads || c.n_heads % c.n_kv_heads != 0)
    fail(path,
         "n_heads " + std::to_string(c.n_heads) + " is not a multiple of n_kv_heads " + std::to_string(c.n_kv_heads));
  if (c.head_size() % 2 != 0) fail(path, "head size " + std::to_string(c.head_size()) + " is odd; RoPE needs pairs");
  return c;
}

// Float counts of each section, in file order.
struct Sections {
  uint64_t embedding, rms_att, wq, wk, wv, wo, rms_ffn, w1, w2, w3, rms_final, freq_half, classifier;
  uint64_t total() const {
    return embedding + rms_att + wq + wk + wv + wo + rms_ffn + w1 + w2 + w3 + rms_final + 2 * freq_half + classifier;
  }
};

// Header values below 2^31 can still multiply past 2^64 (layers * dim * dim), so every product
// and the total are checked: a hostile header must not wrap around to the file's real size.
Sections sections_of(const Llama2cConfig& c, const std::string& path) {
  auto mul = [&](uint64_t a, uint64_t b) {
    uint64_t r;
    if (__builtin_mul_overflow(a, b, &r)) fail(path, "header sizes (" + describe(c) + ") overflow 64-bit byte counts");
    return r;
  };
  const uint64_t dim = uint64_t(c.dim), hidden = uint64_t(c.hidden_dim), layers = uint64_t(c.n_layers);
  const uint64_t kv = uint64_t(c.kv_dim()), vocab = uint64_t(c.vocab_size);
  Sections s{};
  s.embedding = mul(vocab, dim);
  s.rms_att = mul(layers, dim);
  s.wq = mul(layers, mul(dim, dim));
  s.wk = mul(layers, mul(kv, dim));
  s.wv = s.wk;
  s.wo = s.wq;
  s.rms_ffn = s.rms_att;
  s.w1 = mul(layers, mul(hidden, dim));
  s.w2 = s.w1;
  s.w3 = s.w1;
  s.rms_final = dim;
  s.freq_half = mul(uint64_t(c.seq_len), uint64_t(c.head_size() / 2));
  s.classifier = c.shared_classifier ? 0 : s.embedding;
  uint64_t total = 0;
  for (uint64_t part : {s.embedding, s.rms_att, s.wq, s.wk, s.wv, s.wo, s.rms_ffn, s.w1, s.w2, s.w3, s.rms_final,
                        s.freq_half, s.freq_half, s.classifier})
    if (__builtin_add_overflow(total, part, &total))
      fail(path, "header sizes (" + describe(c) + ") overflow 64-bit byte counts");
  if (total > (std::numeric_limits<uint64_t>::max() - kHeaderBytes) / sizeof(float))
    fail(path, "header sizes (" + describe(c) + ") overflow 64-bit byte counts");
  return s;
}

std::vector<float> floats_at(const uint8_t* base, uint64_t first, uint64_t count) {
  std::vector<float> v(count);
  std::memcpy(v.data(), base + first * sizeof(float), count * sizeof(float));
  return v;
}

}  // namespace

const Llama2cTensor* Llama2cModel::find(std::string_view name) const {
  for (const auto& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

const Llama2cTensor& Llama2cModel::tensor(std::string_view name) const {
  if (const Llama2cTensor* t = find(name)) return *t;
  throw Error("llama2.c model has no tensor '" + std::string(name) + "'");
}

Llama2cModel read_llama2c_checkpoint(const std::string& path) {
  const MappedFile file = MappedFile::open(path);
  return read_llama2c_checkpoint(file.data(), file.size(), path);
}

Llama2cModel read_llama2c_checkpoint(const uint8_t* data, uint64_t size, const std::string& path) {
  ByteReader r(data, size, path);
  Llama2cModel m;
  m.config = read_config(r, path);
  const Llama2cConfig& c = m.config;
  const Sections s = sections_of(c, path);
  const uint64_t expected = kHeaderBytes + s.total() * sizeof(float);
  if (size != expected)
    fail(path, "file is " + std::to_string(size) + " bytes but its header (" + describe(c) + ", " +
                   (c.shared_classifier ? "shared" : "separate") + " classifier) needs exactly " +
                   std::to_string(expected) + " bytes");

  const uint8_t* base = data + kHeaderBytes;
  const uint64_t dim = uint64_t(c.dim), hidden = uint64_t(c.hidden_dim), kv = uint64_t(c.kv_dim());
  const uint64_t vocab = uint64_t(c.vocab_size);
  // Start (in floats) of each section.
  const uint64_t o_emb = 0, o_rms_att = o_emb + s.embedding, o_wq = o_rms_att + s.rms_att, o_wk = o_wq + s.wq,
                 o_wv = o_wk + s.wk, o_wo = o_wv + s.wv, o_rms_ffn = o_wo + s.wo, o_w1 = o_rms_ffn + s.rms_ffn,
                 o_w2 = o_w1 + s.w1, o_w3 = o_w2 + s.w2, o_rms_final = o_w3 + s.w3,
                 o_freq_real = o_rms_final + s.rms_final, o_freq_imag = o_freq_real + s.freq_half,
                 o_cls = o_freq_imag + s.freq_half;

  auto add = [&](std::string name, std::vector<uint64_t> dims, uint64_t first) {
    uint64_t count = 1;
    for (uint64_t d : dims) count *= d;
    m.tensors.push_back({std::move(name), std::move(dims), floats_at(base, first, count)});
  };
  add("token_embd.weight", {dim, vocab}, o_emb);
  add("output_norm.weight", {dim}, o_rms_final);
  add("output.weight", {dim, vocab}, c.shared_classifier ? o_emb : o_cls);
  for (uint64_t l = 0; l < uint64_t(c.n_layers); ++l) {
    const std::string blk = "blk." + std::to_string(l) + ".";
    add(blk + "attn_q.weight", {dim, dim}, o_wq + l * dim * dim);
    add(blk + "attn_k.weight", {dim, kv}, o_wk + l * kv * dim);
    add(blk + "attn_v.weight", {dim, kv}, o_wv + l * kv * dim);
    add(blk + "attn_output.weight", {dim, dim}, o_wo + l * dim * dim);
    add(blk + "attn_norm.weight", {dim}, o_rms_att + l * dim);
    add(blk + "ffn_gate.weight", {dim, hidden}, o_w1 + l * hidden * dim);
    add(blk + "ffn_down.weight", {hidden, dim}, o_w2 + l * dim * hidden);
    add(blk + "ffn_up.weight", {dim, hidden}, o_w3 + l * hidden * dim);
    add(blk + "ffn_norm.weight", {dim}, o_rms_ffn + l * dim);
  }
  m.freq_cis_real = floats_at(base, o_freq_real, s.freq_half);
  m.freq_cis_imag = floats_at(base, o_freq_imag, s.freq_half);
  return m;
}

}  // namespace vkq::model
