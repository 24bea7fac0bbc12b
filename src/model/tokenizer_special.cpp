#include "model/tokenizer_special.hpp"

#include <algorithm>

namespace vkq::model {

namespace {

// isspace() in the C locale, which llama.cpp's strip rules use.
bool ascii_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

}  // namespace

SpecialTokenMatcher::SpecialTokenMatcher(const TokenizerVocab& vocab) {
  for (int32_t id = 0; id < vocab.size(); ++id) {
    const TokenType t = vocab.type(id);
    if ((t != TokenType::Control && t != TokenType::UserDefined && t != TokenType::Unknown) || vocab.pieces[id].empty())
      continue;
    specials_.push_back({id, vocab.pieces[id], t != TokenType::UserDefined, vocab.strip_of(id)});
  }
  // Stable, so equal lengths keep id order (llama.cpp's std::sort leaves that order unspecified).
  std::stable_sort(specials_.begin(), specials_.end(),
                   [](const Special& a, const Special& b) { return a.text.size() > b.text.size(); });
}

std::vector<TextFragment> SpecialTokenMatcher::partition(std::string_view text, bool parse_special) const {
  std::vector<TextFragment> fragments;
  if (!text.empty()) fragments.push_back({-1, 0, text.size()});
  for (const Special& s : specials_) {
    if (s.needs_parse_special && !parse_special) continue;
    std::vector<TextFragment> next;
    next.reserve(fragments.size());
    for (const TextFragment& f : fragments) {
      if (f.is_token()) {
        next.push_back(f);
        continue;
      }
      size_t begin = f.offset;
      const size_t end = f.offset + f.length;
      while (begin < end) {
        const size_t match = text.substr(0, end).find(s.text, begin);
        if (match == std::string_view::npos) {
          next.push_back({-1, begin, end - begin});
          break;
        }
        size_t left_end = match;
        if (s.strip.left)
          while (left_end > begin && ascii_space(text[left_end - 1])) --left_end;
        if (left_end > begin) next.push_back({-1, begin, left_end - begin});
        next.push_back({s.id, 0, 0});
        begin = match + s.text.size();
        if (s.strip.right)
          while (begin < end && ascii_space(text[begin])) ++begin;
      }
    }
    fragments = std::move(next);
  }
  return fragments;
}

}  // namespace vkq::model
