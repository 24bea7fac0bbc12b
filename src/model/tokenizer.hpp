// Text -> token ids exactly as llama.cpp (or llama2.c, for its own tokenizer files) produces them,
// so that calibration sequences match what the quantized model will see at inference.
// Implementations: SPM (tokenizer_spm.hpp), byte-level BPE (tokenizer_bpe.hpp), llama2.c
// (tokenizer_llama2c.hpp). The factories below pick one from a model file.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "model/tokenizer_vocab.hpp"

namespace vkq::model {

class GgufFile;

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Token ids of `text` (UTF-8 bytes, used as given), preceded by BOS when add_bos. Empty text
  // gives [BOS] or []; whether that is acceptable is the caller's decision.
  // parse_special: also recognise control tokens written in the text (llama.cpp's parse_special;
  // its perplexity/imatrix tools pass false). User-defined tokens are always recognised.
  // Throws vkq::Error when add_bos is set but the vocabulary has no BOS token.
  std::vector<int32_t> encode(std::string_view text, bool add_bos, bool parse_special = false) const;

  // The bytes token `id` stands for: U+2581 -> ' ' (SPM), <0xXX> -> that byte, GPT-2 byte code
  // points -> bytes; control/user-defined tokens give their text. Throws for ids out of range.
  virtual std::string decode_piece(int32_t id) const = 0;

  int32_t bos() const { return vocab_.bos; }  // -1 when the vocabulary has none
  int32_t eos() const { return vocab_.eos; }
  int32_t n_vocab() const { return vocab_.size(); }
  bool add_bos_by_default() const { return vocab_.add_bos; }  // the model's own preference
  const TokenizerVocab& vocab() const { return vocab_; }

 protected:
  explicit Tokenizer(TokenizerVocab vocab);

  // Appends the ids of `text` (no BOS) to `out`; `out` may already hold a BOS.
  virtual void encode_text(std::string_view text, bool parse_special, std::vector<int32_t>& out) const = 0;

  void check_id(int32_t id) const;  // throws vkq::Error naming the vocabulary for a bad id

  TokenizerVocab vocab_;
};

// The tokenizer a GGUF file describes (tokenizer.ggml.model "llama" -> SPM, "gpt2" -> byte-level
// BPE), configured the way llama.cpp configures it from the same keys. Throws vkq::Error naming
// the file and the key for a missing or malformed key or an unsupported model / pre-tokenizer.
std::unique_ptr<Tokenizer> make_tokenizer(const GgufFile& file);

// llama2.c's tokenizer file (e.g. tok512.bin) with llama2.c's own encoder. Throws vkq::Error
// naming the file when it cannot be read or does not have llama2.c's byte-token layout.
std::unique_ptr<Tokenizer> make_tokenizer_llama2c(const std::string& path);

}  // namespace vkq::model
