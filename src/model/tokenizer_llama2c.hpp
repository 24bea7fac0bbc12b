// llama2.c's tokenizer (run.c `encode`), for its own tokenizer files such as tok512.bin, whose
// pieces spell spaces as ' ' (not U+2581) and keep the 256 byte-fallback pieces <0x00>..<0xFF>
// at ids 3..258 (BOS = 1, EOS = 2). The text gets a dummy-prefix " " token, each UTF-8 character
// becomes its piece or its bytes' tokens (byte + 3), then the adjacent pair whose concatenation
// is the highest-scoring piece (leftmost on ties) is merged until none is left. run.c rescans
// all pairs after every merge; a priority queue gives the same merges in O(n log n).
#pragma once

#include "model/tokenizer.hpp"

namespace vkq::model {

class Llama2cTokenizer final : public Tokenizer {
 public:
  // `vocab` needs pieces and scores; BOS/EOS are llama2.c's fixed 1 and 2. Throws vkq::Error
  // naming vocab.source when the byte pieces are not at ids 3..258 or there is no " " piece.
  explicit Llama2cTokenizer(TokenizerVocab vocab);

  std::string decode_piece(int32_t id) const override;

 private:
  // parse_special is ignored: llama2.c has no special-token parsing. run.c merges across the
  // whole sequence, so a BOS already in `out` takes part in the merges too.
  void encode_text(std::string_view text, bool parse_special, std::vector<int32_t>& out) const override;

  PieceIndex index_;
  int32_t space_id_;  // the dummy-prefix piece " "
};

}  // namespace vkq::model
