#include "io/hf_gguf.hpp"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "io/gguf_values.hpp"
#include "io/gguf_writer.hpp"
#include "io/hf_architecture.hpp"
#include "io/hf_metadata.hpp"
#include "io/hf_vocab.hpp"
#include "model/hf_checkpoint.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::io {

namespace {

using model::GgmlType;
using nlohmann::json;

// llama.cpp's LlamaFileType of an unquantized file.
uint32_t file_type_of(GgmlType t) { return t == GgmlType::F32 ? 0 : t == GgmlType::F16 ? 1 : 32; }

// What keeps the assembled file's bytes alive: the mapped shards and the converted tensors.
struct Holder {
  explicit Holder(model::HfCheckpoint c) : ckpt(std::move(c)) {}
  model::HfCheckpoint ckpt;
  std::vector<std::vector<uint8_t>> buffers;
  const uint8_t* keep(std::vector<uint8_t> bytes) {
    buffers.push_back(std::move(bytes));
    return buffers.back().data();
  }
};

// HF's q/k rows are [head][2][half]; llama.cpp's RoPE wants [head][half][2] (LlamaModel.permute).
std::vector<uint8_t> permute_rows(const uint8_t* src, uint64_t rows, uint64_t row_bytes, uint64_t n_head) {
  if (n_head == 0 || rows % (2 * n_head) != 0)
    throw Error("cannot permute " + std::to_string(rows) + " rows over " + std::to_string(n_head) + " heads");
  const uint64_t half = rows / n_head / 2;
  std::vector<uint8_t> out(rows * row_bytes);
  for (uint64_t h = 0; h < n_head; ++h)
    for (uint64_t j = 0; j < 2; ++j)
      for (uint64_t r = 0; r < half; ++r)
        std::memcpy(out.data() + ((h * half + r) * 2 + j) * row_bytes, src + ((h * 2 + j) * half + r) * row_bytes,
                    row_bytes);
  return out;
}

// A 1-D tensor as F32, with Gemma's + 1 added as the converter's torch does: in F16 for an F16
// checkpoint, in F32 otherwise (it widens BF16 to F32 before transforming a tensor).
std::vector<uint8_t> vector_as_f32(const model::SafetensorsTensor& t, GgmlType stored, bool plus_one) {
  const uint64_t n = t.n_elements();
  std::vector<float> v(n);
  model::dequantize_row(stored, t.data, v.data(), n);
  if (plus_one) {
    for (auto& x : v) x += 1.0f;
    if (stored == GgmlType::F16) {
      std::vector<uint8_t> rounded(model::ggml_row_size(stored, n));
      model::encode_float_row(stored, v.data(), rounded.data(), n);
      model::dequantize_row(stored, rounded.data(), v.data(), n);
    }
  }
  std::vector<uint8_t> out(n * sizeof(float));
  std::memcpy(out.data(), v.data(), out.size());
  return out;
}

std::vector<uint64_t> gguf_dims(const model::SafetensorsTensor& t, const std::string& shard) {
  if (t.shape.empty() || t.shape.size() > 4)
    throw Error(shard + ": tensor '" + t.name + "' has " + std::to_string(t.shape.size()) +
                " dimensions; GGUF tensors have 1 to 4");
  return std::vector<uint64_t>(t.shape.rbegin(), t.shape.rend());
}

uint64_t n_vocab_real_gemma(const model::HfCheckpoint& ckpt, uint64_t vocab_size) {
  if (ckpt.has_file("tokenizer.model") || !ckpt.has_file("tokenizer.json")) return vocab_size;
  const json tok = model::read_json_file(ckpt.file("tokenizer.json"));
  if (!tok.is_object() || !tok.contains("model") || !tok["model"].is_object()) return vocab_size;
  return tok["model"].value("vocab", json::object()).size() + tok.value("added_tokens", json::array()).size();
}

std::string folder_name(const std::string& folder) {
  std::filesystem::path p(folder);
  if (p.filename().empty()) p = p.parent_path();
  return p.filename().string();
}

}  // namespace

HfTensorType parse_hf_tensor_type(const std::string& name) {
  std::string up = name;
  for (auto& c : up) c = char(std::toupper(static_cast<unsigned char>(c)));
  if (up == "AUTO") return HfTensorType::automatic;
  if (up == "F32") return HfTensorType::f32;
  if (up == "F16") return HfTensorType::f16;
  if (up == "BF16") return HfTensorType::bf16;
  throw Error("--type " + name + ": a converted model is auto, F32, F16 or BF16");
}

namespace {
model::GgufFile assemble_hf_gguf(const std::string& folder);
}  // namespace

model::GgufFile hf_as_gguf(const std::string& folder) {
  try {
    return assemble_hf_gguf(folder);
  } catch (const nlohmann::json::exception& e) {
    // A config or tokenizer value of an unexpected JSON type: named, not an "unexpected error".
    throw Error(folder + ": a value in the checkpoint's JSON files has an unexpected type (" + e.what() + ")");
  }
}

namespace {

model::GgufFile assemble_hf_gguf(const std::string& folder) {
  auto holder = std::make_shared<Holder>(model::HfCheckpoint::open(folder));
  const model::HfCheckpoint& ckpt = holder->ckpt;
  const std::string config_path = ckpt.file("config.json");
  const json& config = ckpt.config();
  const HfArchitecture& arch = hf_architecture(config, config_path);
  const uint64_t vocab_size = config.value("vocab_size", json(0)).is_number_unsigned() ? config["vocab_size"].get<uint64_t>() : 0;
  if (vocab_size == 0) throw Error(config_path + ": vocab_size is missing");
  const uint64_t n_head = config.value("num_attention_heads", 0u);
  const uint64_t n_head_kv = config.value("num_key_value_heads", n_head);

  // Tensors in llama.cpp's usual order: embedding, RoPE factors, blocks, final norm, head.
  std::vector<std::pair<std::string, std::string>> names;  // (gguf, hf)
  for (const auto& hf : ckpt.tensor_names())
    if (auto gg = hf_to_gguf_tensor_name(arch, hf)) names.emplace_back(*gg, hf);
  auto rank = [](const std::string& g) {
    if (g == "token_embd.weight") return std::make_pair(0L, std::string());
    if (g.rfind("blk.", 0) == 0) return std::make_pair(2 + std::stol(g.substr(4)), g);
    if (g == "output_norm.weight") return std::make_pair(1L << 40, g);
    return std::make_pair((1L << 40) + 1, g);
  };
  std::sort(names.begin(), names.end(), [&](auto& a, auto& b) { return rank(a.first) < rank(b.first); });

  std::vector<model::GgufFile::AssembledTensor> tensors;
  GgmlType matrix_type = GgmlType::F32;
  bool seen_matrix = false;
  for (const auto& [gg, hf] : names) {
    const model::SafetensorsTensor& t = ckpt.tensor(hf);
    const std::string& shard = ckpt.shard_of(hf);
    const GgmlType stored = model::safetensors_float_type(t, shard);
    model::GgufFile::AssembledTensor a;
    a.info.name = gg;
    a.info.dims = gguf_dims(t, shard);
    if (a.info.dims.size() == 1) {
      const bool shift = arch.norm_plus_one && gg.ends_with("norm.weight");
      a.info.type = GgmlType::F32;
      a.data = holder->keep(vector_as_f32(t, stored, shift));
    } else {
      if (!seen_matrix) matrix_type = stored, seen_matrix = true;
      a.info.type = stored;
      a.data = t.data;
      const uint64_t row_bytes = model::ggml_row_size(stored, a.info.dims[0]);
      if (arch.permute_qk && (gg.ends_with("attn_q.weight") || gg.ends_with("attn_k.weight"))) {
        const uint64_t heads = gg.ends_with("attn_q.weight") ? n_head : n_head_kv;
        a.data = holder->keep(permute_rows(t.data, a.info.n_rows(), row_bytes, heads));
      }
      if (arch.norm_plus_one && gg == "token_embd.weight")  // rows past the tokenizer's are dropped
        a.info.dims[1] = std::min<uint64_t>(a.info.dims[1], n_vocab_real_gemma(ckpt, vocab_size));
    }
    if (arch.permute_qk && (gg.ends_with("attn_q.bias") || gg.ends_with("attn_k.bias")))
      a.data = holder->keep(permute_rows(a.data, a.info.dims[0], 4, gg.ends_with("attn_q.bias") ? n_head : n_head_kv));
    tensors.push_back(std::move(a));
  }
  if (const std::vector<float> f = hf_llama3_rope_factors(config); !f.empty()) {
    model::GgufFile::AssembledTensor a;
    a.info.name = "rope_freqs.weight";
    a.info.dims = {f.size()};
    a.info.type = GgmlType::F32;
    std::vector<uint8_t> bytes(f.size() * sizeof(float));
    std::memcpy(bytes.data(), f.data(), bytes.size());
    a.data = holder->keep(std::move(bytes));
    tensors.insert(tensors.begin() + (tensors.empty() ? 0 : 1), std::move(a));
  }

  HfMetadata md;
  add_hf_hparams(arch, config, file_type_of(matrix_type), folder_name(folder), md);
  if (arch.permute_qk && ckpt.has_file("tokenizer_config.json")) {  // LlamaModel.set_vocab reads it first
    const json tc = model::read_json_file(ckpt.file("tokenizer_config.json"));
    if (tc.is_object() && tc.contains("add_prefix_space") && tc["add_prefix_space"].is_boolean())
      md.set("tokenizer.ggml.add_space_prefix", gguf_bool(tc["add_prefix_space"].get<bool>()));
  }
  add_hf_vocab(ckpt, uint32_t(vocab_size), arch.vocab, md);
  return model::GgufFile::assemble(folder, md.take(), std::move(tensors), holder);
}

}  // namespace

void write_hf_as_gguf(const std::string& folder, const std::string& out, HfTensorType type, bool force,
                      const std::function<void(uint64_t, uint64_t)>& progress) {
  GgufWriter w(out, force);  // fails at once when OUT exists without --force
  const model::GgufFile src = hf_as_gguf(folder);
  GgmlType matrix_type = GgmlType::F32;
  for (const auto& t : src.tensors())
    if (t.dims.size() > 1) {
      matrix_type = t.type;
      break;
    }
  switch (type) {
    case HfTensorType::source: break;
    case HfTensorType::automatic: matrix_type = matrix_type == GgmlType::BF16 ? GgmlType::BF16 : GgmlType::F16; break;
    case HfTensorType::f32: matrix_type = GgmlType::F32; break;
    case HfTensorType::f16: matrix_type = GgmlType::F16; break;
    case HfTensorType::bf16: matrix_type = GgmlType::BF16; break;
  }
  w.copy_metadata(src);
  w.set("general.file_type", gguf_u32(file_type_of(matrix_type)));
  uint64_t total = 0, done = 0;
  for (const auto& t : src.tensors()) total += t.dims.size() > 1 ? model::ggml_row_size(matrix_type, t.row_length()) * t.n_rows() : t.n_bytes();
  for (const auto& t : src.tensors()) {
    const GgmlType to = t.dims.size() > 1 ? matrix_type : t.type;
    w.add_tensor(t.name, t.dims, to, [&src, &t, to, &done, total, &progress](TensorSink& sink) {
      const uint8_t* data = src.tensor_data(t);
      const uint64_t n = t.row_length(), in_row = t.n_bytes() / t.n_rows(), out_row = model::ggml_row_size(to, n);
      if (to == t.type) {
        sink.write(data, t.n_bytes());
      } else {
        std::vector<float> row(n);
        std::vector<uint8_t> enc(out_row);
        for (uint64_t r = 0; r < t.n_rows(); ++r) {
          model::dequantize_row(t.type, data + r * in_row, row.data(), n);
          model::encode_float_row(to, row.data(), enc.data(), n);
          sink.write(enc.data(), enc.size());
        }
      }
      done += out_row * t.n_rows();
      if (progress) progress(done, total);
    });
  }
  w.write();
}

}  // namespace vkq::io
