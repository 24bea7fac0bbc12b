#include <gtest/gtest.h>

#include <set>

#include "model/tokenizer_unicode.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::model {
namespace {

TEST(TokenizerUnicode, CategoriesOfSampleCodePoints) {
  EXPECT_EQ(unicode_category('a'), UnicodeCategory::Letter);
  EXPECT_EQ(unicode_category(0x4E2D), UnicodeCategory::Letter);  // 中
  EXPECT_EQ(unicode_category('7'), UnicodeCategory::Number);
  EXPECT_EQ(unicode_category(0x2167), UnicodeCategory::Number);  // Ⅷ (Nl)
  EXPECT_EQ(unicode_category('!'), UnicodeCategory::Punctuation);
  EXPECT_EQ(unicode_category('$'), UnicodeCategory::Symbol);
  EXPECT_EQ(unicode_category(0x0301), UnicodeCategory::Mark);
  EXPECT_EQ(unicode_category(' '), UnicodeCategory::Separator);
  EXPECT_EQ(unicode_category('\n'), UnicodeCategory::Control);
  EXPECT_EQ(unicode_category(0x0378), UnicodeCategory::Undefined);  // unassigned
  EXPECT_EQ(unicode_category(0x110000), UnicodeCategory::Undefined);
}

TEST(TokenizerUnicode, WhiteSpaceProperty) {
  for (uint32_t cp : {0x09u, 0x0Au, 0x0Du, 0x20u, 0x85u, 0xA0u, 0x2003u, 0x3000u}) EXPECT_TRUE(unicode_is_whitespace(cp)) << cp;
  for (uint32_t cp : {0x1Cu, uint32_t('a'), 0x200Bu}) EXPECT_FALSE(unicode_is_whitespace(cp)) << cp;
}

TEST(TokenizerUnicode, LenientDecodingMatchesLlamaCpp) {
  EXPECT_EQ(utf8_to_codepoints("a\xC3\xA9\xF0\x9F\xA6\x99"), (std::vector<uint32_t>{'a', 0xE9, 0x1F999}));
  // Stray continuation byte, truncated sequence, 0xFF: one U+FFFD per byte skipped.
  EXPECT_EQ(utf8_to_codepoints("\x80" "b\xE2\x82"), (std::vector<uint32_t>{0xFFFD, 'b', 0xFFFD, 0xFFFD}));
  EXPECT_EQ(utf8_sequence_length(0xE2), 3u);
  EXPECT_EQ(utf8_sequence_length(0x80), 1u);
  EXPECT_EQ(codepoint_to_utf8(0x2581), "\xE2\x96\x81");
  EXPECT_THROW(codepoint_to_utf8(0x110000), Error);
}

TEST(TokenizerUnicode, Gpt2ByteMapIsABijectionOntoPrintableCodePoints) {
  EXPECT_EQ(gpt2_byte_to_utf8('A'), "A");
  EXPECT_EQ(gpt2_byte_to_utf8(' '), "\xC4\xA0");     // Ġ U+0120
  EXPECT_EQ(gpt2_byte_to_utf8('\n'), "\xC4\x8A");    // Ċ U+010A
  EXPECT_EQ(gpt2_byte_to_utf8(0xC3), "\xC3\x83");    // Ã: printable Latin-1 maps to itself
  EXPECT_EQ(gpt2_byte_to_utf8(0xAD), "\xC5\x83");    // soft hyphen is moved (U+0143)
  std::set<std::string> seen;
  for (int b = 0; b < 256; ++b) {
    const std::string& s = gpt2_byte_to_utf8(uint8_t(b));
    EXPECT_TRUE(seen.insert(s).second) << b;
    const auto cps = utf8_to_codepoints(s);
    ASSERT_EQ(cps.size(), 1u);
    EXPECT_EQ(gpt2_codepoint_to_byte(cps[0]), b);
  }
  EXPECT_EQ(gpt2_codepoint_to_byte(0x4E2D), -1);
}

}  // namespace
}  // namespace vkq::model
