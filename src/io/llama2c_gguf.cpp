#include "io/llama2c_gguf.hpp"

#include <unistd.h>

#include <cstring>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "io/gguf_writer.hpp"
#include "model/llama2c.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::io {

namespace {

// llama.cpp token types: 1 normal, 2 unknown, 3 control, 6 byte.
int32_t token_type(size_t id, const std::string& piece) {
  if (id == 0) return 2;
  if (id == 1 || id == 2) return 3;
  if (piece.size() == 6 && piece.rfind("<0x", 0) == 0 && piece.back() == '>') return 6;
  return 1;
}

// SentencePiece writes a space as U+2581; llama2.c's file stores a plain space.
std::string spm_piece(const std::string& piece) {
  std::string out;
  for (char c : piece) out += c == ' ' ? std::string("\xE2\x96\x81") : std::string(1, c);
  return out;
}

}  // namespace

model::GgufFile llama2c_as_gguf(const std::string& checkpoint_path, const std::string& tokenizer_path) {
  const model::Llama2cModel m = model::read_llama2c_checkpoint(checkpoint_path);
  const model::Llama2cVocab vocab = model::read_llama2c_tokenizer(tokenizer_path, m.config.vocab_size);
  const auto& c = m.config;
  // Built through the ordinary writer into a private temporary file, then read into memory.
  const auto tmp = std::filesystem::temp_directory_path() /
                   ("vkquant-llama2c-" + std::to_string(::getpid()) + "-" +
                    std::to_string(std::hash<std::string>{}(checkpoint_path)) + ".gguf");
  std::error_code ec;
  std::filesystem::remove(tmp, ec);
  {
    GgufWriter w(tmp.string(), true);
    w.add_string("general.architecture", "llama");
    w.add_string("general.name", std::filesystem::path(checkpoint_path).stem().string());
    w.add_u32("llama.context_length", uint32_t(c.seq_len));
    w.add_u32("llama.embedding_length", uint32_t(c.dim));
    w.add_u32("llama.feed_forward_length", uint32_t(c.hidden_dim));
    w.add_u32("llama.attention.head_count", uint32_t(c.n_heads));
    w.add_u32("llama.attention.head_count_kv", uint32_t(c.n_kv_heads));
    w.add_u32("llama.block_count", uint32_t(c.n_layers));
    w.add_u32("llama.rope.dimension_count", uint32_t(c.head_size()));
    w.add_f32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
    w.add_string("tokenizer.ggml.model", "llama");
    std::vector<std::string> pieces;
    std::vector<int32_t> types;
    for (size_t i = 0; i < vocab.pieces.size(); ++i) {
      pieces.push_back(spm_piece(vocab.pieces[i]));
      types.push_back(token_type(i, vocab.pieces[i]));
    }
    w.add_string_array("tokenizer.ggml.tokens", pieces);
    w.add_f32_array("tokenizer.ggml.scores", vocab.scores);
    w.add_i32_array("tokenizer.ggml.token_type", types);
    w.add_u32("tokenizer.ggml.unknown_token_id", 0);
    w.add_u32("tokenizer.ggml.bos_token_id", 1);
    w.add_u32("tokenizer.ggml.eos_token_id", 2);
    for (const auto& t : m.tensors) {
      std::vector<uint8_t> bytes(t.data.size() * 4);
      std::memcpy(bytes.data(), t.data.data(), bytes.size());
      w.add_tensor(t.name, t.dims, model::GgmlType::F32, std::move(bytes));
    }
    w.write();
  }
  std::vector<uint8_t> bytes;
  {
    std::ifstream in(tmp, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  std::filesystem::remove(tmp, ec);
  return model::GgufFile::from_memory(std::move(bytes), checkpoint_path);
}

}  // namespace vkq::io
