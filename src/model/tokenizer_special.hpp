// Splits text around special tokens written in it, before any tokenizer sees the text: llama.cpp's
// tokenizer_st_partition. User-defined tokens are always matched; control and unknown tokens
// only with parse_special. Longer tokens are matched first, each over all text left so far.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "model/tokenizer_vocab.hpp"

namespace vkq::model {

// A run of text to tokenize normally, or a special token found in the text.
struct TextFragment {
  int32_t token = -1;  // >= 0: the special token; < 0: the text [offset, offset + length)
  size_t offset = 0;
  size_t length = 0;
  bool is_token() const { return token >= 0; }
};

class SpecialTokenMatcher {
 public:
  explicit SpecialTokenMatcher(const TokenizerVocab& vocab);

  // Fragments in text order; empty text gives no fragments.
  std::vector<TextFragment> partition(std::string_view text, bool parse_special) const;

 private:
  struct Special {
    int32_t id;
    std::string text;
    bool needs_parse_special;  // control / unknown tokens
    TokenStrip strip;
  };
  std::vector<Special> specials_;  // longest text first
};

}  // namespace vkq::model
