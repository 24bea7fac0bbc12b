#include "model/tokenizer_vocab.hpp"

#include "vkquant/vkquant.hpp"

namespace vkq::model {

void TokenizerVocab::validate() const {
  const size_t n = pieces.size();
  auto check_length = [&](size_t len, const char* what) {
    if (len != 0 && len != n)
      throw Error(source + ": tokenizer has " + std::to_string(n) + " pieces but " + std::to_string(len) + " " +
                  what);
  };
  if (n == 0) throw Error(source + ": tokenizer vocabulary is empty");
  if (n > size_t(INT32_MAX)) throw Error(source + ": tokenizer vocabulary is too large");
  check_length(scores.size(), "scores");
  check_length(types.size(), "token types");
  check_length(strip.size(), "strip flags");
  auto check_id = [&](int32_t id, const char* what) {
    if (id < -1 || id >= int32_t(n))
      throw Error(source + ": " + what + " token id " + std::to_string(id) + " is outside the vocabulary of " +
                  std::to_string(n));
  };
  check_id(bos, "BOS");
  check_id(eos, "EOS");
  check_id(unk, "unknown");
}

PieceIndex::PieceIndex(const TokenizerVocab& vocab) {
  ids_.reserve(vocab.pieces.size());
  for (size_t i = 0; i < vocab.pieces.size(); ++i) {
    if (!ids_.emplace(vocab.pieces[i], int32_t(i)).second)
      throw Error(vocab.source + ": tokenizer piece '" + vocab.pieces[i] + "' appears twice (ids " +
                  std::to_string(find(vocab.pieces[i])) + " and " + std::to_string(i) + ")");
  }
}

int32_t PieceIndex::find(std::string_view piece) const {
  const auto it = ids_.find(piece);
  return it == ids_.end() ? -1 : it->second;
}

int parse_byte_piece(std::string_view piece) {
  if (piece.size() != 6 || piece.substr(0, 3) != "<0x" || piece[5] != '>') return -1;
  auto hex = [](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  const int hi = hex(piece[3]), lo = hex(piece[4]);
  return (hi < 0 || lo < 0) ? -1 : hi * 16 + lo;
}

}  // namespace vkq::model
