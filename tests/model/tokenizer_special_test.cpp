// Special-token partitioning (llama.cpp's tokenizer_st_partition).
#include <gtest/gtest.h>

#include "model/tokenizer_special.hpp"

namespace vkq::model {
namespace {

TokenizerVocab specials_vocab() {
  TokenizerVocab v;
  v.source = "specials";
  v.pieces = {"<unk>", "<ctl>", "<u>", "<u><u>", "x"};
  v.types = {TokenType::Unknown, TokenType::Control, TokenType::UserDefined, TokenType::UserDefined, TokenType::Normal};
  return v;
}

// Fragments rendered as "[id]" for tokens and the text itself otherwise.
std::string render(std::string_view text, const std::vector<TextFragment>& fs) {
  std::string out;
  for (const auto& f : fs) {
    if (!out.empty()) out += '|';
    if (f.is_token()) {
      out += '[';
      out += std::to_string(f.token);
      out += ']';
    } else {
      out += text.substr(f.offset, f.length);
    }
  }
  return out;
}

TEST(TokenizerSpecial, UserDefinedAlwaysControlOnlyWithParseSpecial) {
  const SpecialTokenMatcher m(specials_vocab());
  const std::string text = "a<ctl>b<u>c<unk>";
  EXPECT_EQ(render(text, m.partition(text, false)), "a<ctl>b|[2]|c<unk>");
  EXPECT_EQ(render(text, m.partition(text, true)), "a|[1]|b|[2]|c|[0]");
}

TEST(TokenizerSpecial, LongerTokensAreMatchedFirst) {
  const SpecialTokenMatcher m(specials_vocab());
  const std::string text = "<u><u><u>";
  EXPECT_EQ(render(text, m.partition(text, false)), "[3]|[2]");
}

TEST(TokenizerSpecial, EmptyTextHasNoFragments) {
  const SpecialTokenMatcher m(specials_vocab());
  EXPECT_TRUE(m.partition("", true).empty());
}

TEST(TokenizerSpecial, StripFlagsDropNeighbouringWhitespace) {
  TokenizerVocab v = specials_vocab();
  v.strip.assign(v.pieces.size(), TokenStrip{});
  v.strip[2] = {true, true};
  const SpecialTokenMatcher m(v);
  const std::string text = "a \t<u>\n b<u>  ";
  EXPECT_EQ(render(text, m.partition(text, false)), "a|[2]|b|[2]");
}

}  // namespace
}  // namespace vkq::model
