#include "model/model_weights.hpp"

#include <cmath>
#include <cstring>
#include <fstream>

#include "model/gguf.hpp"
#include "model/llama2c.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::model {

struct ModelWeights::Impl {
  LlamaConfig config;
  std::unique_ptr<GgufFile> gguf;
  std::unique_ptr<Llama2cModel> l2c;
};

ModelWeights::ModelWeights(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ModelWeights::ModelWeights(ModelWeights&&) noexcept = default;
ModelWeights& ModelWeights::operator=(ModelWeights&&) noexcept = default;
ModelWeights::~ModelWeights() = default;

ModelWeights ModelWeights::from_gguf(GgufFile file) {
  auto impl = std::make_unique<Impl>();
  impl->config = llama_config_from_gguf(file);
  impl->gguf = std::make_unique<GgufFile>(std::move(file));
  return ModelWeights(std::move(impl));
}

ModelWeights ModelWeights::from_llama2c(Llama2cModel model, const std::string& path) {
  auto impl = std::make_unique<Impl>();
  impl->config = llama_config_from_llama2c(model.config, path);
  impl->l2c = std::make_unique<Llama2cModel>(std::move(model));
  return ModelWeights(std::move(impl));
}

ModelWeights ModelWeights::open(const std::string& path) {
  char magic[4] = {};
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open model file");
  in.read(magic, 4);
  if (in.gcount() == 4 && std::memcmp(magic, "GGUF", 4) == 0) return from_gguf(GgufFile::open(path));
  return from_llama2c(read_llama2c_checkpoint(path), path);
}

const LlamaConfig& ModelWeights::config() const { return impl_->config; }
const GgufFile* ModelWeights::gguf() const { return impl_->gguf.get(); }

bool ModelWeights::has_tensor(const std::string& name) const {
  return impl_->gguf ? impl_->gguf->find_tensor(name) != nullptr : impl_->l2c->find(name) != nullptr;
}

WeightMatrix ModelWeights::tensor(const std::string& name, uint32_t rows, uint32_t cols) const {
  return read_tensor(name, rows, cols, 2);
}

WeightMatrix ModelWeights::read_tensor(const std::string& name, uint32_t rows, uint32_t cols, size_t max_dims) const {
  const std::string& src = impl_->config.source;
  WeightMatrix w;
  uint64_t r = 0, c = 0;
  size_t ndims = 0;
  if (impl_->gguf) {
    const GgufTensorInfo* t = impl_->gguf->find_tensor(name);
    if (!t) throw Error(src + ": missing tensor '" + name + "'");
    ndims = t->dims.size();
    c = t->row_length();
    r = t->n_rows();
    if (r == rows && c == cols) w.data = impl_->gguf->read_f32(*t);
  } else {
    const Llama2cTensor* t = impl_->l2c->find(name);
    if (!t) throw Error(src + ": missing tensor '" + name + "'");
    ndims = t->dims.size();
    c = t->cols();
    r = t->rows();
    if (r == rows && c == cols) w.data = t->data;
  }
  if (r != rows || c != cols || ndims > max_dims)
    throw Error(src + ": tensor '" + name + "' is " + std::to_string(r) + " x " + std::to_string(c) +
                ", expected " + std::to_string(rows) + " x " + std::to_string(cols));
  for (size_t i = 0; i < w.data.size(); ++i)
    if (!std::isfinite(w.data[i]))
      throw Error(src + ": tensor '" + name + "' holds a non-finite value (" + std::to_string(w.data[i]) +
                  ") at row " + std::to_string(i / cols) + ", column " + std::to_string(i % cols));
  w.rows = rows;
  w.cols = cols;
  return w;
}

WeightMatrix ModelWeights::token_embedding() const {
  return tensor("token_embd.weight", config().vocab_size, config().dim);
}

void ModelWeights::token_embedding_rows(const std::vector<int32_t>& ids, float* out) const {
  const uint32_t vocab = config().vocab_size, dim = config().dim;
  const std::string name = "token_embd.weight";
  const GgufTensorInfo* g = impl_->gguf ? impl_->gguf->find_tensor(name) : nullptr;
  const Llama2cTensor* l = impl_->gguf ? nullptr : impl_->l2c->find(name);
  if (!g && !l) throw Error(impl_->config.source + ": missing tensor '" + name + "'");
  if (g) require_readable(g->type, name);
  const uint64_t row_bytes = g ? ggml_row_size(g->type, dim) : 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || uint32_t(ids[i]) >= vocab)
      throw Error(impl_->config.source + ": token id " + std::to_string(ids[i]) + " is outside the vocabulary of " +
                  std::to_string(vocab));
    float* row = out + i * dim;
    if (g) dequantize_row(g->type, impl_->gguf->tensor_data(*g) + uint64_t(ids[i]) * row_bytes, row, dim);
    else std::memcpy(row, l->data.data() + uint64_t(ids[i]) * dim, dim * sizeof(float));
    for (uint32_t j = 0; j < dim; ++j)
      if (!std::isfinite(row[j]))
        throw Error(impl_->config.source + ": tensor '" + name + "' holds a non-finite value (" +
                    std::to_string(row[j]) + ") at row " + std::to_string(ids[i]) + ", column " + std::to_string(j));
  }
}

WeightMatrix ModelWeights::output() const {
  // Tied classifier: llama.cpp falls back to the embedding when output.weight is absent.
  const char* name = has_tensor("output.weight") ? "output.weight" : "token_embd.weight";
  return tensor(name, config().vocab_size, config().dim);
}

std::vector<float> ModelWeights::output_norm() const { return tensor("output_norm.weight", 1, config().dim).data; }

std::vector<float> ModelWeights::attn_norm(uint32_t block) const {
  return tensor("blk." + std::to_string(block) + ".attn_norm.weight", 1, config().dim).data;
}

std::vector<float> ModelWeights::ffn_norm(uint32_t block) const {
  return tensor("blk." + std::to_string(block) + ".ffn_norm.weight", 1, config().dim).data;
}

std::vector<float> ModelWeights::linear_bias(uint32_t block, const std::string& name) const {
  const LinearShape s = linear_shape(config(), name);
  return tensor("blk." + std::to_string(block) + "." + name + ".bias", 1, s.rows).data;
}

std::vector<float> ModelWeights::post_norm(uint32_t block, const std::string& name) const {
  if (name != "post_attention_norm" && name != "post_ffw_norm")
    throw Error("unknown post norm '" + name + "' (expected post_attention_norm or post_ffw_norm)");
  return tensor("blk." + std::to_string(block) + "." + name + ".weight", 1, config().dim).data;
}

std::vector<float> ModelWeights::rope_freq_factors() const {
  if (!has_tensor("rope_freqs.weight")) return {};
  return tensor("rope_freqs.weight", 1, config().rope_dim / 2).data;
}

std::vector<float> ModelWeights::head_norm(uint32_t block, const std::string& name) const {
  if (name != "attn_q_norm" && name != "attn_k_norm")
    throw Error("unknown head norm '" + name + "' (expected attn_q_norm or attn_k_norm)");
  return tensor("blk." + std::to_string(block) + "." + name + ".weight", 1, config().head_dim).data;
}

WeightMatrix ModelWeights::router(uint32_t block) const {
  const LlamaConfig& c = config();
  if (!c.moe()) throw Error(c.source + ": the model has no experts, so no router");
  return tensor("blk." + std::to_string(block) + ".ffn_gate_inp.weight", c.n_experts, c.dim);
}

WeightMatrix ModelWeights::experts(uint32_t block, const std::string& name) const {
  const LlamaConfig& c = config();
  if (!c.moe()) throw Error(c.source + ": the model has no experts, so no " + name);
  if (name != "ffn_gate_exps" && name != "ffn_up_exps" && name != "ffn_down_exps")
    throw Error("unknown expert tensor '" + name + "' (expected ffn_gate_exps, ffn_up_exps or ffn_down_exps)");
  const LinearShape s = linear_shape(c, name.substr(0, name.size() - 5));  // one expert's linear
  return read_tensor("blk." + std::to_string(block) + "." + name + ".weight", c.n_experts * s.rows, s.cols, 3);
}

WeightMatrix ModelWeights::expert(uint32_t block, const std::string& name, uint32_t e) const {
  const LlamaConfig& c = config();
  if (!c.moe() || e >= c.n_experts || !impl_->gguf)
    throw Error(c.source + ": no expert " + std::to_string(e) + " of blk." + std::to_string(block) + "." + name);
  const std::string tname = "blk." + std::to_string(block) + "." + name + ".weight";
  const LinearShape s = linear_shape(c, name.substr(0, name.size() - 5));
  const GgufTensorInfo* t = impl_->gguf->find_tensor(tname);
  if (!t) throw Error(c.source + ": missing tensor '" + tname + "'");
  if (t->row_length() != s.cols || t->n_rows() != uint64_t(s.rows) * c.n_experts)
    throw Error(c.source + ": tensor '" + tname + "' is " + std::to_string(t->n_rows()) + " x " +
                std::to_string(t->row_length()) + ", expected " + std::to_string(uint64_t(s.rows) * c.n_experts) + " x " +
                std::to_string(s.cols));
  require_readable(t->type, tname);
  const uint64_t row_bytes = ggml_row_size(t->type, s.cols);
  WeightMatrix w{s.rows, s.cols, std::vector<float>(size_t(s.rows) * s.cols)};
  for (uint32_t r = 0; r < s.rows; ++r) {
    float* row = w.data.data() + size_t(r) * s.cols;
    dequantize_row(t->type, impl_->gguf->tensor_data(*t) + (uint64_t(e) * s.rows + r) * row_bytes, row, s.cols);
    for (uint32_t j = 0; j < s.cols; ++j)
      if (!std::isfinite(row[j]))
        throw Error(c.source + ": tensor '" + tname + "' holds a non-finite value (" + std::to_string(row[j]) +
                    ") in expert " + std::to_string(e) + ", row " + std::to_string(r) + ", column " + std::to_string(j));
  }
  return w;
}

WeightMatrix ModelWeights::linear(uint32_t block, const std::string& name) const {
  if (block >= config().n_layers)
    throw Error(config().source + ": block " + std::to_string(block) + " out of range (" +
                std::to_string(config().n_layers) + " blocks)");
  const LlamaConfig& c = config();
  const std::string pre = "blk." + std::to_string(block) + ".";
  // A part of a fused tensor: its rows, in the order the fused tensor stacks them.
  auto part = [&](const char* fused_linear, const char* stored, uint32_t first_row) {
    const LinearShape whole = linear_shape(c, fused_linear);
    WeightMatrix all = tensor(pre + stored + ".weight", whole.rows, whole.cols);
    if (name == fused_linear) return all;
    const LinearShape s = linear_shape(c, name);
    WeightMatrix m{s.rows, s.cols, {}};
    m.data.assign(all.data.begin() + ptrdiff_t(size_t(first_row) * s.cols),
                  all.data.begin() + ptrdiff_t(size_t(first_row + s.rows) * s.cols));
    return m;
  };
  if (c.fused_qkv && (name == "attn_q" || name == "attn_k" || name == "attn_v" || name == "attn_qkv"))
    return part("attn_qkv", "attn_qkv", name == "attn_k" ? c.q_dim() : name == "attn_v" ? c.q_dim() + c.kv_dim() : 0);
  if (c.fused_gate_up && (name == "ffn_gate" || name == "ffn_up" || name == "ffn_gate_up"))
    return part("ffn_gate_up", "ffn_up", name == "ffn_up" ? c.hidden_dim : 0);
  if (name == "attn_qkv" || name == "ffn_gate_up")
    throw Error(c.source + ": " + name + " is a fused linear, which this model does not have");
  const LinearShape s = linear_shape(c, name);
  return tensor(pre + name + ".weight", s.rows, s.cols);
}

}  // namespace vkq::model
