// Writes safetensors files and small Hugging Face checkpoint folders for tests, independently of
// src/model's reader: a JSON header laid out by hand, then the raw little-endian data.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

namespace vkq::test {

struct StTensor {
  std::string name;
  std::string dtype;  // "F32", "F16", "BF16", "I64", ...
  std::vector<uint64_t> shape;
  std::vector<uint8_t> bytes;
};

// The safetensors bytes of `tensors`, data in the given order; `patch` may edit the header first.
inline std::vector<uint8_t> safetensors_bytes(const std::vector<StTensor>& tensors,
                                              const std::function<void(nlohmann::json&)>& patch = {}) {
  nlohmann::json header = nlohmann::json::object();
  header["__metadata__"] = {{"format", "pt"}};
  std::vector<uint8_t> data;
  for (const auto& t : tensors) {
    header[t.name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {data.size(), data.size() + t.bytes.size()}}};
    data.insert(data.end(), t.bytes.begin(), t.bytes.end());
  }
  if (patch) patch(header);
  std::string h = header.dump();
  while (h.size() % 8) h += ' ';
  std::vector<uint8_t> out(8);
  const uint64_t n = h.size();
  std::memcpy(out.data(), &n, 8);
  out.insert(out.end(), h.begin(), h.end());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

inline std::vector<uint8_t> f32_bytes(const std::vector<float>& v) {
  std::vector<uint8_t> b(v.size() * 4);
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

// bfloat16 of each value (round to nearest even), as raw bytes.
inline std::vector<uint8_t> bf16_bytes(const std::vector<float>& v) {
  std::vector<uint8_t> b(v.size() * 2);
  for (size_t i = 0; i < v.size(); ++i) {
    uint32_t u;
    std::memcpy(&u, &v[i], 4);
    const uint16_t h = uint16_t((u + 0x7FFF + ((u >> 16) & 1)) >> 16);
    std::memcpy(b.data() + 2 * i, &h, 2);
  }
  return b;
}

inline float bf16_value(float x) {
  const auto b = bf16_bytes({x});
  uint32_t u = uint32_t(b[0] | (b[1] << 8)) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

inline void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

inline void write_json(const std::string& path, const nlohmann::json& j) {
  std::ofstream out(path, std::ios::trunc);
  out << j.dump(2);
}

// GPT-2's byte-to-unicode symbols (UTF-8), the 256 base tokens of a byte-level BPE vocabulary.
inline std::vector<std::string> byte_level_symbols() {
  std::vector<int> bs, cs;
  for (int b = '!'; b <= '~'; ++b) bs.push_back(b);
  for (int b = 0xA1; b <= 0xAC; ++b) bs.push_back(b);
  for (int b = 0xAE; b <= 0xFF; ++b) bs.push_back(b);
  cs = bs;
  int n = 0;
  for (int b = 0; b < 256; ++b)
    if (std::find(bs.begin(), bs.end(), b) == bs.end()) bs.push_back(b), cs.push_back(256 + n++);
  std::vector<std::string> out(256);
  for (size_t i = 0; i < bs.size(); ++i) {
    const int c = cs[i];
    std::string s;
    if (c < 0x80) s = char(c);
    else s = {char(0xC0 | (c >> 6)), char(0x80 | (c & 0x3F))};
    out[bs[i]] = s;
  }
  return out;
}

// A tiny LlamaForCausalLM checkpoint (byte-level BPE vocabulary of 258 tokens, F32 or BF16
// weights from `seed`), returned as the HF tensors written, by name, as float values.
struct TinyHfModel {
  uint32_t dim = 32, ff = 64, heads = 4, kv_heads = 2, head_dim = 8, layers = 1, vocab = 258;
  std::map<std::string, std::pair<std::vector<uint64_t>, std::vector<float>>> tensors;
};

inline TinyHfModel write_tiny_llama_checkpoint(const std::string& folder, const std::string& dtype, uint64_t seed) {
  TinyHfModel m;
  std::filesystem::create_directories(folder);
  auto symbols = byte_level_symbols();
  nlohmann::json vocab = nlohmann::json::object();
  for (size_t i = 0; i < symbols.size(); ++i) vocab[symbols[i]] = i;
  vocab["\xC4\xA0t"] = 256;  // "Ġt"
  nlohmann::json tok = {
      {"version", "1.0"},
      {"added_tokens", {{{"id", 257}, {"content", "<|endoftext|>"}, {"special", true}, {"normalized", false}}}},
      {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}}},
      {"post_processor", {{"type", "ByteLevel"}, {"trim_offsets", false}}},
      {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", {"\xC4\xA0 t"}}}}};
  write_json(folder + "/tokenizer.json", tok);
  write_json(folder + "/tokenizer_config.json",
             {{"bos_token", "<|endoftext|>"}, {"eos_token", "<|endoftext|>"}, {"add_bos_token", true}});
  write_json(folder + "/config.json",
             {{"architectures", {"LlamaForCausalLM"}}, {"hidden_size", m.dim}, {"intermediate_size", m.ff},
              {"num_hidden_layers", m.layers}, {"num_attention_heads", m.heads}, {"num_key_value_heads", m.kv_heads},
              {"head_dim", m.head_dim}, {"vocab_size", m.vocab}, {"max_position_embeddings", 64},
              {"rms_norm_eps", 1e-5}, {"rope_theta", 10000.0}, {"tie_word_embeddings", false}});
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> g(0.0f, 1.0f);
  auto add = [&](const std::string& name, std::vector<uint64_t> shape, float scale, float offset) {
    uint64_t n = 1;
    for (auto d : shape) n *= d;
    std::vector<float> v(n);
    for (auto& x : v) x = dtype == "BF16" ? bf16_value(offset + scale * g(rng)) : offset + scale * g(rng);
    m.tensors[name] = {shape, v};
  };
  add("model.embed_tokens.weight", {m.vocab, m.dim}, 0.5f, 0);
  add("lm_head.weight", {m.vocab, m.dim}, 0.2f, 0);
  add("model.norm.weight", {m.dim}, 0.1f, 1);
  const std::string p = "model.layers.0.";
  add(p + "input_layernorm.weight", {m.dim}, 0.1f, 1);
  add(p + "post_attention_layernorm.weight", {m.dim}, 0.1f, 1);
  add(p + "self_attn.q_proj.weight", {m.heads * m.head_dim, m.dim}, 0.2f, 0);
  add(p + "self_attn.k_proj.weight", {m.kv_heads * m.head_dim, m.dim}, 0.2f, 0);
  add(p + "self_attn.v_proj.weight", {m.kv_heads * m.head_dim, m.dim}, 0.2f, 0);
  add(p + "self_attn.o_proj.weight", {m.dim, m.heads * m.head_dim}, 0.2f, 0);
  add(p + "mlp.gate_proj.weight", {m.ff, m.dim}, 0.2f, 0);
  add(p + "mlp.up_proj.weight", {m.ff, m.dim}, 0.2f, 0);
  add(p + "mlp.down_proj.weight", {m.dim, m.ff}, 0.15f, 0);
  std::vector<StTensor> st;
  for (const auto& [name, sv] : m.tensors)
    st.push_back({name, dtype, sv.first, dtype == "BF16" ? bf16_bytes(sv.second) : f32_bytes(sv.second)});
  write_bytes(folder + "/model.safetensors", safetensors_bytes(st));
  return m;
}

}  // namespace vkq::test
