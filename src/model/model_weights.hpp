// One view of a LLaMA-family model's weights, whichever file they come from (GGUF of any type
// read_f32 decodes, or a llama2.c checkpoint): each tensor as fp32 rows x cols, its shape checked
// against the config and its values checked for NaN/Inf, with the tensor named in every error.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "model/llama_config.hpp"

namespace vkq::model {

class GgufFile;
struct Llama2cModel;

struct WeightMatrix {
  uint32_t rows = 0, cols = 0;
  std::vector<float> data;  // row-major rows x cols (rows = output features)
};

class ModelWeights {
 public:
  static ModelWeights from_gguf(GgufFile file);
  static ModelWeights from_llama2c(Llama2cModel model, const std::string& path);
  // GGUF when the file starts with the GGUF magic, else a llama2.c checkpoint.
  static ModelWeights open(const std::string& path);

  ModelWeights(ModelWeights&&) noexcept;
  ModelWeights& operator=(ModelWeights&&) noexcept;
  ~ModelWeights();

  const LlamaConfig& config() const;
  const GgufFile* gguf() const;  // nullptr for a llama2.c source

  WeightMatrix token_embedding() const;                    // vocab x dim
  // Rows `ids` of the token embedding (ids.size() x dim into `out`), decoded straight from the mapped file:
  // a large vocabulary's table is never held whole in host memory. vkq::Error for an id outside the
  // vocabulary or a non-finite value, naming the row.
  void token_embedding_rows(const std::vector<int32_t>& ids, float* out) const;
  WeightMatrix output() const;                             // vocab x dim; the embedding when tied
  std::vector<float> output_norm() const;                  // dim
  std::vector<float> attn_norm(uint32_t block) const;      // dim
  std::vector<float> ffn_norm(uint32_t block) const;       // dim
  WeightMatrix linear(uint32_t block, const std::string& name) const;  // shape from linear_shape()
  // The bias of attn_q, attn_k or attn_v (config().qkv_bias models): one value per output row.
  std::vector<float> linear_bias(uint32_t block, const std::string& name) const;
  // The per-head RMSNorm weight of q or k ("attn_q_norm", "attn_k_norm"; config().qk_norm models): head_dim.
  std::vector<float> head_norm(uint32_t block, const std::string& name) const;
  // Llama 3's rope_freqs.weight (rope_dim/2 factors dividing each rotation frequency); empty when absent.
  std::vector<float> rope_freq_factors() const;
  // gemma3's RMSNorm of a block's attention or FFN output ("post_attention_norm", "post_ffw_norm"): dim.
  std::vector<float> post_norm(uint32_t block, const std::string& name) const;

  // Mixture-of-experts blocks (config().moe()): the router ffn_gate_inp (n_experts x dim) and a 3-D expert
  // tensor ("ffn_gate_exps", "ffn_up_exps", "ffn_down_exps") as n_experts stacked linears of
  // linear_shape(ffn_gate / ffn_up / ffn_down): (n_experts · rows) x cols, expert e at rows [e·rows, (e+1)·rows).
  WeightMatrix router(uint32_t block) const;
  WeightMatrix experts(uint32_t block, const std::string& name) const;
  // One expert's linear of a stack (linear_shape's rows x cols), decoded from the mapped file row by row: a
  // block's experts are never all held on the host.
  WeightMatrix expert(uint32_t block, const std::string& name, uint32_t e) const;

  // Any tensor by its GGUF name with the shape it must have (vkq::Error otherwise).
  WeightMatrix tensor(const std::string& name, uint32_t rows, uint32_t cols) const;
  bool has_tensor(const std::string& name) const;

 private:
  struct Impl;
  explicit ModelWeights(std::unique_ptr<Impl> impl);
  WeightMatrix read_tensor(const std::string& name, uint32_t rows, uint32_t cols, size_t max_dims) const;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vkq::model
