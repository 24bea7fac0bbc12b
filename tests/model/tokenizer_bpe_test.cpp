// Byte-level BPE on a hand-built GPT-2-style vocabulary: ids 0..255 are the 256 byte code points
// (id = byte value), then a few merged pieces; each test picks the merges it needs.
#include <gtest/gtest.h>

#include <algorithm>

#include "model/tokenizer_bpe.hpp"
#include "model/tokenizer_unicode.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::model {
namespace {

using Ids = std::vector<int32_t>;

constexpr int32_t kAb = 256, kBc = 257, kAa = 258, kAaaa = 259, kEAcute = 260, kSpaceH = 261, kSpaceHi = 262,
                  kEndOfText = 263, kTool = 264, kXyz = 265;

TokenizerVocab byte_level_vocab(std::vector<std::string> merges, std::string pre = "gpt-2") {
  TokenizerVocab v;
  v.source = "byte-level test vocab";
  for (int b = 0; b < 256; ++b) v.pieces.push_back(gpt2_byte_to_utf8(uint8_t(b)));
  for (const char* p : {"ab", "bc", "aa", "aaaa", "\xC3\x83\xC2\xA9" /* Ã© = é's bytes */, "\xC4\xA0h" /* Ġh */,
                        "\xC4\xA0hi", "<|endoftext|>", "<tool>", "xyz"})
    v.pieces.push_back(p);
  v.types.assign(v.pieces.size(), TokenType::Normal);
  v.types[kEndOfText] = TokenType::Control;
  v.types[kTool] = TokenType::UserDefined;
  v.merges = std::move(merges);
  v.pre = std::move(pre);
  v.bos = v.eos = kEndOfText;
  v.add_bos = false;
  return v;
}

TEST(TokenizerBpe, LowerRankMergesFirst) {
  EXPECT_EQ(BpeTokenizer(byte_level_vocab({"b c", "a b"})).encode("abc", false), (Ids{'a', kBc}));
  EXPECT_EQ(BpeTokenizer(byte_level_vocab({"a b", "b c"})).encode("abc", false), (Ids{kAb, 'c'}));
}

TEST(TokenizerBpe, EqualRanksMergeLeftmostFirst) {
  const BpeTokenizer tok(byte_level_vocab({"a a", "aa aa"}));
  EXPECT_EQ(tok.encode("aaa", false), (Ids{kAa, 'a'}));
  EXPECT_EQ(tok.encode("aaaa", false), (Ids{kAaaa}));  // aa|aa, then aa+aa
}

TEST(TokenizerBpe, BytesAreMappedToGpt2CodePointsBeforeMerging) {
  const BpeTokenizer tok(byte_level_vocab({"\xC3\x83 \xC2\xA9", "\xC4\xA0 h", "\xC4\xA0h i"}));
  // é = C3 A9 -> "Ã" "©" -> merged; "\n" is its own word, the byte piece "Ċ" (id 10).
  EXPECT_EQ(tok.encode("\xC3\xA9\n", false), (Ids{kEAcute, '\n'}));
  // " hi" is one word: "Ġ" "h" "i" -> "Ġh" -> "Ġhi".
  EXPECT_EQ(tok.encode("hi hi", false), (Ids{'h', 'i', kSpaceHi}));
  EXPECT_EQ(tok.encode(" h", false), (Ids{kSpaceH}));
}

TEST(TokenizerBpe, SpecialTokensInsideText) {
  const BpeTokenizer tok(byte_level_vocab({"\xC4\xA0 h", "\xC4\xA0h i"}));
  EXPECT_EQ(tok.encode("hi<|endoftext|> hi", false, true), (Ids{'h', 'i', kEndOfText, kSpaceHi}));
  // Without parse_special a control token is plain text; user-defined tokens always match.
  const Ids literal = tok.encode("hi<|endoftext|> hi", false, false);
  EXPECT_EQ(std::count(literal.begin(), literal.end(), kEndOfText), 0);
  EXPECT_EQ(literal.size(), 2u + 13u + 1u);  // h i, 13 single bytes, Ġhi
  EXPECT_EQ(tok.encode("a<tool>b", false), (Ids{'a', kTool, 'b'}));
}

TEST(TokenizerBpe, IgnoreMergesEmitsWholeVocabularyWords) {
  EXPECT_EQ(BpeTokenizer(byte_level_vocab({}, "llama-bpe")).encode("xyz", false), (Ids{kXyz}));
  EXPECT_EQ(BpeTokenizer(byte_level_vocab({}, "gpt-2")).encode("xyz", false), (Ids{'x', 'y', 'z'}));
}

TEST(TokenizerBpe, BosAndEmptyText) {
  const BpeTokenizer tok(byte_level_vocab({}));
  EXPECT_EQ(tok.encode("", true), Ids{kEndOfText});
  EXPECT_EQ(tok.encode("", false), Ids{});
  EXPECT_EQ(tok.encode("a", true), (Ids{kEndOfText, 'a'}));
  EXPECT_FALSE(tok.add_bos_by_default());
}

TEST(TokenizerBpe, DecodePiecesMapCodePointsBackToBytes) {
  const BpeTokenizer tok(byte_level_vocab({}));
  EXPECT_EQ(tok.decode_piece(kSpaceHi), " hi");
  EXPECT_EQ(tok.decode_piece(kEAcute), "\xC3\xA9");
  EXPECT_EQ(tok.decode_piece('\n'), "\n");
  EXPECT_EQ(tok.decode_piece(kEndOfText), "<|endoftext|>");
  std::string back;
  const std::string text = "caf\xC3\xA9 \xF0\x9F\xA6\x99\tok\n";
  for (int32_t id : tok.encode(text, false)) back += tok.decode_piece(id);
  EXPECT_EQ(back, text);
}

TEST(TokenizerBpe, UnsupportedPreTokenizerIsRejected) {
  try {
    BpeTokenizer tok(byte_level_vocab({}, "tekken"));
    FAIL() << "expected vkq::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tekken"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("byte-level test vocab"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace vkq::model
