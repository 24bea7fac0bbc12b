#include "model/tokenizer_llama2c.hpp"

#include <queue>

#include "model/llama2c.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::model {

namespace {

constexpr int32_t kFirstByteToken = 3;  // after <unk>, <s>, </s>
constexpr float kMinMergeScore = -1e10f;  // run.c's initial best score: merges must beat it

TokenizerVocab with_llama2c_specials(TokenizerVocab v) {
  v.bos = 1;
  v.eos = 2;
  v.unk = 0;
  v.add_bos = true;
  return v;
}

// One token of the sequence being merged; `alive` is false once merged into its left neighbour.
struct Node {
  int32_t id;
  int prev, next;
  bool alive;
};

// A candidate merge of adjacent nodes, valid while both still hold the ids it was made from.
struct Candidate {
  float score;
  int left, right;
  int32_t left_id, right_id, merged_id;
};

// Highest score first, then leftmost (run.c keeps the first maximum of its left-to-right scan).
struct CandidateOrder {
  bool operator()(const Candidate& a, const Candidate& b) const {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  }
};

}  // namespace

Llama2cTokenizer::Llama2cTokenizer(TokenizerVocab vocab)
    : Tokenizer(with_llama2c_specials(std::move(vocab))), index_(vocab_), space_id_(index_.find(" ")) {
  if (vocab_.size() < kFirstByteToken + 256)
    throw Error(vocab_.source + ": a llama2.c tokenizer needs at least 259 pieces (byte pieces at ids 3..258), got " +
                std::to_string(vocab_.size()));
  for (int b = 0; b < 256; ++b)
    if (parse_byte_piece(vocab_.pieces[kFirstByteToken + b]) != b)
      throw Error(vocab_.source + ": piece " + std::to_string(kFirstByteToken + b) + " is '" +
                  vocab_.pieces[kFirstByteToken + b] + "', but llama2.c expects byte piece " + std::to_string(b) +
                  " there");
  if (space_id_ < 0) throw Error(vocab_.source + ": llama2.c tokenizer has no \" \" piece for the dummy prefix");
}

void Llama2cTokenizer::encode_text(std::string_view text, bool, std::vector<int32_t>& out) const {
  std::vector<int32_t> initial(out.begin(), out.end());
  if (!text.empty()) initial.push_back(space_id_);
  // Each UTF-8 character (a lead byte and at most 3 continuation bytes) is looked up whole.
  auto is_continuation = [](char c) { return (uint8_t(c) & 0xC0) == 0x80; };
  std::string character;
  for (size_t i = 0; i < text.size(); ++i) {
    if (!is_continuation(text[i])) character.clear();
    character += text[i];
    if (i + 1 < text.size() && is_continuation(text[i + 1]) && character.size() < 4) continue;
    if (const int32_t id = index_.find(character); id >= 0) {
      initial.push_back(id);
    } else {
      for (char b : character) initial.push_back(kFirstByteToken + uint8_t(b));
    }
    character.clear();
  }

  std::vector<Node> nodes(initial.size());
  for (size_t i = 0; i < initial.size(); ++i)
    nodes[i] = {initial[i], int(i) - 1, i + 1 < initial.size() ? int(i) + 1 : -1, true};

  std::priority_queue<Candidate, std::vector<Candidate>, CandidateOrder> queue;
  std::string pair;
  auto try_pair = [&](int left, int right) {
    if (left < 0 || right < 0) return;
    pair = vocab_.pieces[nodes[left].id];
    pair += vocab_.pieces[nodes[right].id];
    const int32_t id = index_.find(pair);
    if (id >= 0 && vocab_.score(id) > kMinMergeScore)
      queue.push({vocab_.score(id), left, right, nodes[left].id, nodes[right].id, id});
  };
  for (int i = 1; i < int(nodes.size()); ++i) try_pair(i - 1, i);

  while (!queue.empty()) {
    const Candidate c = queue.top();
    queue.pop();
    Node& l = nodes[c.left];
    Node& r = nodes[c.right];
    if (!l.alive || !r.alive || l.next != c.right || l.id != c.left_id || r.id != c.right_id) continue;  // stale
    l.id = c.merged_id;
    r.alive = false;
    l.next = r.next;
    if (r.next >= 0) nodes[r.next].prev = c.left;
    try_pair(l.prev, c.left);
    try_pair(c.left, l.next);
  }

  out.clear();
  for (int i = nodes.empty() ? -1 : 0; i != -1; i = nodes[i].next) out.push_back(nodes[i].id);
}

std::string Llama2cTokenizer::decode_piece(int32_t id) const {
  check_id(id);
  const std::string& piece = vocab_.pieces[id];
  const int b = parse_byte_piece(piece);
  return b >= 0 ? std::string(1, char(b)) : piece;
}

std::unique_ptr<Tokenizer> make_tokenizer_llama2c(const std::string& path) {
  Llama2cVocab file = read_llama2c_tokenizer(path);
  TokenizerVocab vocab;
  vocab.source = path;
  vocab.pieces = std::move(file.pieces);
  vocab.scores = std::move(file.scores);
  return std::make_unique<Llama2cTokenizer>(std::move(vocab));
}

}  // namespace vkq::model
