#include "model/tokenizer_spm.hpp"

#include <cstdio>
#include <queue>

#include "model/tokenizer_unicode.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::model {

namespace {

constexpr std::string_view kEscapedSpace = "\xE2\x96\x81";  // U+2581 LOWER ONE EIGHTH BLOCK

std::string escape_spaces(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 4);
  for (char c : text) {
    if (c == ' ') out += kEscapedSpace;
    else out += c;
  }
  return out;
}

std::string unescape_spaces(std::string_view piece) {
  std::string out;
  out.reserve(piece.size());
  for (size_t i = 0; i < piece.size();) {
    if (piece.substr(i, 3) == kEscapedSpace) {
      out += ' ';
      i += 3;
    } else {
      out += piece[i++];
    }
  }
  return out;
}

// A span of the text in the merge chain; `length` 0 marks a symbol merged into its left neighbour.
struct Symbol {
  size_t offset, length;
  int prev, next;
};

// A candidate merge of two adjacent symbols; `length` detects candidates made stale by a merge.
struct Candidate {
  float score;
  int left, right;
  size_t length;
};

// Highest score first, then leftmost.
struct CandidateOrder {
  bool operator()(const Candidate& a, const Candidate& b) const {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  }
};

}  // namespace

SpmTokenizer::SpmTokenizer(TokenizerVocab vocab)
    : Tokenizer(std::move(vocab)), index_(vocab_), specials_(vocab_) {
  // llama.cpp's byte_to_token: "<0xXX>" (upper-case hex), else the byte itself as a piece.
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    int32_t id = index_.find(name);
    if (id < 0) id = index_.find(std::string(1, char(b)));
    byte_tokens_[b] = id;
  }
}

int32_t SpmTokenizer::byte_token(uint8_t byte) const {
  if (byte_tokens_[byte] >= 0) return byte_tokens_[byte];
  // SentencePiece without byte fallback maps what it cannot spell to <unk>.
  if (vocab_.unk >= 0) return vocab_.unk;
  char hex[8];
  std::snprintf(hex, sizeof hex, "0x%02X", byte);
  throw Error(vocab_.source + ": text needs byte " + hex +
              ", which the vocabulary has neither as <0xXX>, as a piece nor via an unknown token");
}

void SpmTokenizer::encode_text(std::string_view text, bool parse_special, std::vector<int32_t>& out) const {
  bool after_special = true;  // the first run counts as following a special token
  for (const TextFragment& f : specials_.partition(text, parse_special)) {
    if (f.is_token()) {
      out.push_back(f.token);
      after_special = true;
      continue;
    }
    std::string run = (vocab_.add_space_prefix && after_special) ? " " : "";
    run += text.substr(f.offset, f.length);
    encode_run(escape_spaces(run), out);
    after_special = false;
  }
}

void SpmTokenizer::encode_run(std::string_view text, std::vector<int32_t>& out) const {
  if (text.empty()) return;
  std::vector<Symbol> symbols;
  symbols.reserve(text.size());
  for (size_t off = 0; off < text.size();) {
    const size_t len = std::min(utf8_sequence_length(uint8_t(text[off])), text.size() - off);
    const int i = int(symbols.size());
    symbols.push_back({off, len, i - 1, off + len == text.size() ? -1 : i + 1});
    off += len;
  }

  std::priority_queue<Candidate, std::vector<Candidate>, CandidateOrder> queue;
  auto try_pair = [&](int left, int right) {
    if (left < 0 || right < 0) return;
    const size_t length = symbols[left].length + symbols[right].length;
    const int32_t id = index_.find(text.substr(symbols[left].offset, length));
    if (id >= 0) queue.push({vocab_.score(id), left, right, length});
  };
  for (int i = 1; i < int(symbols.size()); ++i) try_pair(i - 1, i);

  while (!queue.empty()) {
    const Candidate c = queue.top();
    queue.pop();
    Symbol& l = symbols[c.left];
    Symbol& r = symbols[c.right];
    if (l.length == 0 || r.length == 0 || l.length + r.length != c.length) continue;  // stale
    l.length += r.length;
    r.length = 0;
    l.next = r.next;
    if (r.next >= 0) symbols[r.next].prev = c.left;
    try_pair(l.prev, c.left);
    try_pair(c.left, l.next);
  }

  // Every merged symbol is a piece, so only unmerged characters can miss the index (llama.cpp's
  // resegment() recursion through its merge history never finds anything else to split).
  for (int i = 0; i != -1; i = symbols[i].next) {
    const std::string_view piece = text.substr(symbols[i].offset, symbols[i].length);
    const int32_t id = index_.find(piece);
    if (id >= 0) {
      out.push_back(id);
    } else {
      for (char b : piece) out.push_back(byte_token(uint8_t(b)));
    }
  }
}

std::string SpmTokenizer::decode_piece(int32_t id) const {
  check_id(id);
  const std::string& piece = vocab_.pieces[id];
  switch (vocab_.type(id)) {
    case TokenType::Normal:
      return unescape_spaces(piece);
    case TokenType::Byte: {
      const int b = parse_byte_piece(piece);
      return b >= 0 ? std::string(1, char(b)) : piece;
    }
    case TokenType::Control:
    case TokenType::UserDefined:
    case TokenType::Unknown:
      return piece;
    default:
      return {};  // unused / undefined tokens print as nothing in llama.cpp
  }
}

}  // namespace vkq::model
