// SentencePiece-style tokenizer for tokenizer.ggml.model = "llama", as llama.cpp runs it
// (llm_tokenizer_spm): a space is prepended to each text run that starts the input or follows a
// special token (add_space_prefix), spaces become U+2581, then adjacent symbols (UTF-8
// characters at first) are merged greedily, always the pair whose merged piece has the highest
// score (leftmost on ties), until no adjacent pair forms a piece. Symbols left that are not
// pieces are emitted as <0xXX> byte tokens (else the byte as a one-character piece, else unk).
#pragma once

#include <array>

#include "model/tokenizer.hpp"
#include "model/tokenizer_special.hpp"

namespace vkq::model {

class SpmTokenizer final : public Tokenizer {
 public:
  // Throws vkq::Error for an inconsistent or duplicate-piece vocabulary.
  explicit SpmTokenizer(TokenizerVocab vocab);

  std::string decode_piece(int32_t id) const override;

 private:
  void encode_text(std::string_view text, bool parse_special, std::vector<int32_t>& out) const override;
  void encode_run(std::string_view escaped, std::vector<int32_t>& out) const;  // one run, spaces escaped
  int32_t byte_token(uint8_t byte) const;

  PieceIndex index_;
  SpecialTokenMatcher specials_;
  std::array<int32_t, 256> byte_tokens_;  // -1: no token for that byte
};

}  // namespace vkq::model
