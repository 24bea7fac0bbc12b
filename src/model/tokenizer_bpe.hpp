// Byte-level BPE for tokenizer.ggml.model = "gpt2", as llama.cpp runs it (llm_tokenizer_bpe):
// text is cut into words by the pre-tokenizer (tokenizer_pretokenizer.hpp), each word's bytes
// are mapped to GPT-2's printable code points, and adjacent symbols are merged by the lowest
// merge rank (leftmost on ties) until no ranked pair is left. A symbol that is not a piece is
// emitted byte by byte where a byte alone is a piece, and dropped otherwise (llama.cpp does the same).
#pragma once

#include <unordered_map>

#include "model/tokenizer.hpp"
#include "model/tokenizer_pretokenizer.hpp"
#include "model/tokenizer_special.hpp"

namespace vkq::model {

class BpeTokenizer final : public Tokenizer {
 public:
  // Throws vkq::Error for an unsupported vocab.pre, an inconsistent or duplicate-piece vocabulary.
  explicit BpeTokenizer(TokenizerVocab vocab);

  std::string decode_piece(int32_t id) const override;

 private:
  void encode_text(std::string_view text, bool parse_special, std::vector<int32_t>& out) const override;
  void encode_word(const std::string& encoded_word, std::vector<int32_t>& out) const;
  int32_t rank(std::string_view left, std::string_view right, std::string& scratch) const;

  PieceIndex index_;
  SpecialTokenMatcher specials_;
  PreTokenizerSpec pre_;
  std::unordered_map<std::string, int32_t> ranks_;  // "left right" -> merge rank
};

}  // namespace vkq::model
