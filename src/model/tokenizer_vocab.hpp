// A tokenizer's vocabulary as plain data (what GGUF's tokenizer.ggml.* keys or a llama2.c
// tokenizer file hold), and the piece -> id index every tokenizer looks pieces up in.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace vkq::model {

// GGUF tokenizer.ggml.token_type values (llama.cpp's llama_token_type).
enum class TokenType : int32_t {
  Undefined = 0,
  Normal = 1,
  Unknown = 2,
  Control = 3,      // e.g. <s>, <|im_end|>: matched in text only when asked to (parse_special)
  UserDefined = 4,  // matched in text as a whole string, always
  Unused = 5,
  Byte = 6,         // <0xXX> byte-fallback pieces
};

// llama.cpp strips whitespace next to some special tokens (per model, e.g. Phi-3's rstrip).
struct TokenStrip {
  bool left = false;   // drop whitespace before the token
  bool right = false;  // drop whitespace after the token
};

struct TokenizerVocab {
  std::string source;                 // file (or description) the vocabulary came from, for errors
  std::vector<std::string> pieces;    // id -> piece text
  std::vector<float> scores;          // one per piece, or empty (all 0)
  std::vector<TokenType> types;       // one per piece, or empty (all Normal)
  std::vector<TokenStrip> strip;      // one per piece, or empty (no stripping)
  std::vector<std::string> merges;    // byte-level BPE only: "left right", in rank order
  int32_t bos = -1, eos = -1, unk = -1;  // -1: the vocabulary has none
  bool add_bos = true;                // whether the model wants BOS (tokenizer.ggml.add_bos_token)
  bool add_space_prefix = true;       // SPM: prepend a space to text (tokenizer.ggml.add_space_prefix)
  std::string pre = "default";        // byte-level BPE pre-tokenizer name (tokenizer.ggml.pre)

  float score(int32_t id) const { return scores.empty() ? 0.f : scores[size_t(id)]; }
  TokenType type(int32_t id) const { return types.empty() ? TokenType::Normal : types[size_t(id)]; }
  TokenStrip strip_of(int32_t id) const { return strip.empty() ? TokenStrip{} : strip[size_t(id)]; }
  int32_t size() const { return int32_t(pieces.size()); }

  // Throws vkq::Error naming `source` when the arrays disagree in length or an id is out of range.
  void validate() const;
};

// Exact-match lookup of pieces. Duplicate pieces are an error (llama.cpp refuses them too).
class PieceIndex {
 public:
  explicit PieceIndex(const TokenizerVocab& vocab);
  int32_t find(std::string_view piece) const;  // -1 when absent

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, int32_t, Hash, std::equal_to<>> ids_;
};

// The byte a "<0xXX>" byte-fallback piece stands for (hex digits in either case), or -1.
int parse_byte_piece(std::string_view piece);

}  // namespace vkq::model
