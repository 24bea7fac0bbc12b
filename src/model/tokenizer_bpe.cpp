#include "model/tokenizer_bpe.hpp"

#include <queue>

#include "model/tokenizer_unicode.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::model {

namespace {

// A span of the word in the merge chain; `length` 0 marks a symbol merged into its left neighbour.
struct Symbol {
  size_t offset, length;
  int prev, next;
};

// A candidate merge; `text` detects candidates made stale by an earlier merge.
struct Candidate {
  int32_t rank;
  int left, right;
  std::string text;
};

// Lowest rank first, then leftmost.
struct CandidateOrder {
  bool operator()(const Candidate& a, const Candidate& b) const {
    return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
  }
};

}  // namespace

BpeTokenizer::BpeTokenizer(TokenizerVocab vocab)
    : Tokenizer(std::move(vocab)), index_(vocab_), specials_(vocab_), pre_(pre_tokenizer_for(vocab_.pre, vocab_.source)) {
  ranks_.reserve(vocab_.merges.size());
  // A merge line is "left right", split at its first space after the first byte; the first
  // occurrence of a pair keeps its rank. Keying the whole line is equivalent, because lookups are
  // only ever made for space-free left parts.
  for (size_t i = 0; i < vocab_.merges.size(); ++i) ranks_.emplace(vocab_.merges[i], int32_t(i));
}

int32_t BpeTokenizer::rank(std::string_view left, std::string_view right, std::string& scratch) const {
  scratch.assign(left);
  scratch += ' ';
  scratch += right;
  const auto it = ranks_.find(scratch);
  return it == ranks_.end() ? -1 : it->second;
}

void BpeTokenizer::encode_text(std::string_view text, bool parse_special, std::vector<int32_t>& out) const {
  std::string encoded;
  for (const TextFragment& f : specials_.partition(text, parse_special)) {
    if (f.is_token()) {
      out.push_back(f.token);
      continue;
    }
    for (const std::string& word : pre_tokenize(text.substr(f.offset, f.length), pre_.kind)) {
      encoded.clear();
      for (char b : word) encoded += gpt2_byte_to_utf8(uint8_t(b));
      encode_word(encoded, out);
    }
  }
}

void BpeTokenizer::encode_word(const std::string& word, std::vector<int32_t>& out) const {
  if (pre_.ignore_merges) {
    if (const int32_t id = index_.find(word); id >= 0) {
      out.push_back(id);
      return;
    }
  }
  std::vector<Symbol> symbols;
  for (size_t off = 0; off < word.size();) {
    const size_t len = std::min(utf8_sequence_length(uint8_t(word[off])), word.size() - off);
    const int i = int(symbols.size());
    symbols.push_back({off, len, i - 1, off + len == word.size() ? -1 : i + 1});
    off += len;
  }
  if (symbols.empty()) return;
  auto text_of = [&](int i) { return std::string_view(word).substr(symbols[i].offset, symbols[i].length); };

  std::priority_queue<Candidate, std::vector<Candidate>, CandidateOrder> queue;
  std::string scratch;
  auto try_pair = [&](int left, int right) {
    if (left < 0 || right < 0) return;
    const int32_t r = rank(text_of(left), text_of(right), scratch);
    if (r >= 0) queue.push({r, left, right, std::string(text_of(left)) + std::string(text_of(right))});
  };
  for (int i = 1; i < int(symbols.size()); ++i) try_pair(i - 1, i);

  while (!queue.empty()) {
    const Candidate c = queue.top();
    queue.pop();
    Symbol& l = symbols[c.left];
    Symbol& r = symbols[c.right];
    if (l.length == 0 || r.length == 0) continue;
    if (std::string(text_of(c.left)) + std::string(text_of(c.right)) != c.text) continue;  // stale
    l.length += r.length;
    r.length = 0;
    l.next = r.next;
    if (r.next >= 0) symbols[r.next].prev = c.left;
    try_pair(l.prev, c.left);
    try_pair(c.left, l.next);
  }

  for (int i = 0; i != -1; i = symbols[i].next) {
    const std::string_view piece = text_of(i);
    if (const int32_t id = index_.find(piece); id >= 0) {
      out.push_back(id);
      continue;
    }
    for (char b : piece)
      if (const int32_t id = index_.find(std::string_view(&b, 1)); id >= 0) out.push_back(id);
  }
}

std::string BpeTokenizer::decode_piece(int32_t id) const {
  check_id(id);
  const std::string& piece = vocab_.pieces[id];
  switch (vocab_.type(id)) {
    case TokenType::Control:
    case TokenType::UserDefined:
    case TokenType::Unknown:
      return piece;
    case TokenType::Normal: {
      // Code points outside GPT-2's byte map are kept as they are (llama.cpp prints a marker).
      std::string out;
      for (uint32_t cp : utf8_to_codepoints(piece)) {
        const int b = gpt2_codepoint_to_byte(cp);
        if (b >= 0) out += char(b);
        else append_utf8(out, cp);
      }
      return out;
    }
    default:
      return {};  // byte / unused / undefined tokens print as nothing in llama.cpp
  }
}

}  // namespace vkq::model
