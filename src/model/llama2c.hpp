// Readers for Karpathy's llama2.c files: the legacy ("version 0") fp32 checkpoint and the
// tokenizer.bin/tok512.bin vocabulary. Checkpoint tensors get the GGUF names and shapes
// (token_embd.weight, blk.N.attn_q.weight, ..., output.weight), so a model loads the same way
// from either source. Sizes are validated exactly: the file must be as long as its header says.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace vkq::model {

struct Llama2cConfig {
  int32_t dim = 0;
  int32_t hidden_dim = 0;
  int32_t n_layers = 0;
  int32_t n_heads = 0;
  int32_t n_kv_heads = 0;
  int32_t vocab_size = 0;          // always positive here; the file's sign is shared_classifier
  int32_t seq_len = 0;
  bool shared_classifier = true;   // the file's vocab_size > 0: the classifier is the embedding
  int32_t head_size() const { return dim / n_heads; }
  int32_t kv_dim() const { return head_size() * n_kv_heads; }
};

// A row-major fp32 tensor; dims in GGUF order (dims[0] = columns, the contiguous axis).
struct Llama2cTensor {
  std::string name;
  std::vector<uint64_t> dims;
  std::vector<float> data;
  uint64_t cols() const { return dims.empty() ? 1 : dims[0]; }
  uint64_t rows() const { return dims.size() < 2 ? 1 : dims[1]; }
};

struct Llama2cModel {
  Llama2cConfig config;
  // In the order of llama.cpp's conversion: token_embd, output_norm, output, then per block
  // attn_q, attn_k, attn_v, attn_output, attn_norm, ffn_gate, ffn_down, ffn_up, ffn_norm.
  std::vector<Llama2cTensor> tensors;
  std::vector<float> freq_cis_real;  // [seq_len][head_size / 2], the file's RoPE tables
  std::vector<float> freq_cis_imag;

  const Llama2cTensor* find(std::string_view name) const;  // nullptr when absent
  const Llama2cTensor& tensor(std::string_view name) const; // vkq::Error when absent
};

// Reads a version-0 checkpoint: 7 int32 header, fp32 tensors, freq_cis tables, and the
// classifier last when vocab_size < 0. vkq::Error naming the file and the problem otherwise.
Llama2cModel read_llama2c_checkpoint(const std::string& path);
// The same from bytes in memory; `name` stands for the file in messages (fuzzing, tests).
Llama2cModel read_llama2c_checkpoint(const uint8_t* data, uint64_t size, const std::string& name);

struct Llama2cVocab {
  int32_t max_token_length = 0;
  std::vector<std::string> pieces;  // raw bytes of each token
  std::vector<float> scores;
};

// Reads int32 max_token_length, then per token float32 score, int32 length, bytes.
// vocab_size > 0: exactly that many tokens and nothing after them; 0: tokens up to the end.
Llama2cVocab read_llama2c_tokenizer(const std::string& path, int32_t vocab_size = 0);
Llama2cVocab read_llama2c_tokenizer(const uint8_t* data, uint64_t size, const std::string& name,
                                    int32_t vocab_size = 0);

}  // namespace vkq::model
