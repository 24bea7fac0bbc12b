// Fuzz target for calibration text: arbitrary bytes (invalid UTF-8, stray control-token text,
// lone surrogates, overlong forms) through every tokenizer vkquant runs — the stories260K SPM
// vocabulary, llama.cpp's LLaMA SPM vocabulary, llama2.c's tok512.bin, and byte-level BPE with each
// pre-tokenizer family — with and without special-token parsing. Encoding must give ids in range
// (whose pieces decode) or throw vkq::Error; the UTF-8 decoder must agree with the byte count.
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_targets.hpp"
#include "model/gguf.hpp"
#include "model/tokenizer.hpp"
#include "model/tokenizer_bpe.hpp"
#include "model/tokenizer_unicode.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::fuzz {

namespace {

std::vector<std::unique_ptr<model::Tokenizer>> g_tokenizers;

// GPT-2 style: ids 0..255 are the byte code points, then a few merges and special tokens.
std::unique_ptr<model::Tokenizer> byte_level_bpe(const std::string& pre) {
  model::TokenizerVocab v;
  v.source = "fuzz byte-level vocab (" + pre + ")";
  for (int b = 0; b < 256; ++b) v.pieces.push_back(model::gpt2_byte_to_utf8(uint8_t(b)));
  for (const char* p : {"th", "the", "\xC4\xA0t", "\xC4\xA0the", "in", "ing", "<|endoftext|>", "<tool>"})
    v.pieces.push_back(p);
  v.types.assign(v.pieces.size(), model::TokenType::Normal);
  v.types[262] = model::TokenType::Control;
  v.types[263] = model::TokenType::UserDefined;
  v.merges = {"t h", "th e", "\xC4\xA0 t", "\xC4\xA0t he", "i n", "in g"};
  v.pre = pre;
  v.bos = v.eos = 262;
  v.add_bos = false;
  return std::make_unique<model::BpeTokenizer>(std::move(v));
}

}  // namespace

void text_init(const char* data_dir) {
  const std::string d = data_dir;
  g_tokenizers.push_back(model::make_tokenizer(model::GgufFile::open(d + "/tinystories-260k/stories260K.gguf")));
  g_tokenizers.push_back(model::make_tokenizer(model::GgufFile::open(d + "/llama2-tokenizer/ggml-vocab-llama-spm.gguf")));
  g_tokenizers.push_back(model::make_tokenizer_llama2c(d + "/tinystories-260k/tok512.bin"));
  for (const char* pre : {"gpt-2", "smollm", "llama3", "qwen2", "default"}) g_tokenizers.push_back(byte_level_bpe(pre));
}

int text_one_input(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    (void)model::utf8_to_codepoints(text);
  } catch (const vkq::Error&) {
  }
  for (const auto& tok : g_tokenizers)
    for (bool special : {false, true}) {
      try {
        for (int32_t id : tok->encode(text, true, special)) {
          if (id < 0 || id >= tok->n_vocab()) __builtin_trap();
          (void)tok->decode_piece(id);
        }
      } catch (const vkq::Error&) {
        // A text the tokenizer refuses with a message is acceptable; a crash is not.
      }
    }
  return 0;
}

}  // namespace vkq::fuzz
