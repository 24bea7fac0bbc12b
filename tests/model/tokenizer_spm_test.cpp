// The SentencePiece tokenizer against llama.cpp's own expected ids (its test-tokenizer-0 fixture
// for the LLaMA vocabulary), plus the merge rules on a hand-built vocabulary.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "model/gguf.hpp"
#include "model/tokenizer_spm.hpp"
#include "support/test_seed.hpp"
#include "vocab_fixture.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::model {
namespace {

using Ids = std::vector<int32_t>;

const std::string kLlamaVocab = "llama2-tokenizer/ggml-vocab-llama-spm.gguf";

std::unique_ptr<Tokenizer> llama_tokenizer() { return make_tokenizer(GgufFile::open(test::data_path(kLlamaVocab))); }

// llama.cpp's own fixture for the LLaMA vocabulary (tests/model/vocab_fixture.hpp).
TEST(TokenizerSpm, MatchesEveryLlamaCppTestVector) {
  const auto tok = llama_tokenizer();
  const auto fixture = test::read_vocab_fixture(test::data_path(kLlamaVocab));
  const auto& cases = fixture.inputs;
  const auto& expected = fixture.expected;
  ASSERT_EQ(cases.size(), expected.size());
  ASSERT_EQ(cases.size(), 46u);
  size_t matched = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const Ids got = tok->encode(cases[i], false);
    EXPECT_EQ(got, expected[i]) << "case " << i << ": '" << cases[i] << "'";
    matched += got == expected[i];
  }
  std::printf("llama.cpp SPM vectors: %zu of %zu cases match\n", matched, cases.size());
}

TEST(TokenizerSpm, BosAndEmptyText) {
  const auto tok = llama_tokenizer();
  EXPECT_EQ(tok->bos(), 1);
  EXPECT_EQ(tok->eos(), 2);
  EXPECT_EQ(tok->n_vocab(), 32000);
  EXPECT_TRUE(tok->add_bos_by_default());
  EXPECT_EQ(tok->encode("", true), Ids{1});
  EXPECT_EQ(tok->encode("", false), Ids{});
  EXPECT_EQ(tok->encode("Hello world", true), (Ids{1, 15043, 3186}));
}

TEST(TokenizerSpm, DecodePiecesGiveBackTheText) {
  const auto tok = llama_tokenizer();
  EXPECT_EQ(tok->decode_piece(15043), " Hello");
  EXPECT_EQ(tok->decode_piece(13), "\n");  // <0x0A>
  EXPECT_EQ(tok->decode_piece(1), "<s>");
  EXPECT_THROW(tok->decode_piece(32000), Error);
  EXPECT_THROW(tok->decode_piece(-1), Error);
  const std::string text = "Hello, world!\n\t\xC2\xBD caf\xC3\xA9 \xF0\x9F\xA6\x99 \xE1\x80\x80";
  std::string back;
  for (int32_t id : tok->encode(text, false)) back += tok->decode_piece(id);
  EXPECT_EQ(back, " " + text);  // the dummy-prefix space
}

TEST(TokenizerSpm, ControlTokensInTextAreParsedOnlyWhenAsked) {
  const auto tok = llama_tokenizer();
  // parse_special: <s> is a token and the text after it gets the dummy-prefix space again.
  EXPECT_EQ(tok->encode("<s>Hello", false, true), (Ids{1, 15043}));
  const Ids literal = tok->encode("<s>Hello", false, false);
  EXPECT_EQ(std::count(literal.begin(), literal.end(), 1), 0);
}

TEST(TokenizerSpm, Stories260kGgufEncodesZooLikeLlama2c) {
  const auto tok = make_tokenizer(GgufFile::open(test::data_path("tinystories-260k/stories260K.gguf")));
  EXPECT_EQ(tok->n_vocab(), 512);
  EXPECT_EQ(tok->encode("Zoo", true), (Ids{1, 410, 469, 347}));
}

// A hand-built vocabulary: ids 0..2 are <unk> <s> </s>; ▁ is U+2581.
TokenizerVocab small_vocab() {
  TokenizerVocab v;
  v.source = "small spm vocab";
  auto add = [&](std::string piece, float score, TokenType type = TokenType::Normal) {
    v.pieces.push_back(std::move(piece));
    v.scores.push_back(score);
    v.types.push_back(type);
  };
  add("<unk>", 0, TokenType::Unknown);                   // 0
  add("<s>", 0, TokenType::Control);                     // 1
  add("</s>", 0, TokenType::Control);                    // 2
  add("\xE2\x96\x81", -1);                               // 3 ▁
  add("a", -2);                                          // 4
  add("b", -2);                                          // 5
  add("c", -2);                                          // 6
  add("ab", -5);                                         // 7
  add("bc", -4);                                         // 8  higher than ab
  add("aa", -3);                                         // 9
  add("<0xC3>", 0, TokenType::Byte);                     // 10
  add("<0xA9>", 0, TokenType::Byte);                     // 11
  v.bos = 1;
  v.eos = 2;
  v.unk = 0;
  v.add_space_prefix = false;
  return v;
}

TEST(TokenizerSpm, MergesTheHighestScoringPairFirst) {
  const SpmTokenizer tok(small_vocab());
  EXPECT_EQ(tok.encode("abc", false), (Ids{4, 8}));  // bc (-4) beats ab (-5)
}

TEST(TokenizerSpm, EqualScoresMergeLeftmostFirst) {
  const SpmTokenizer tok(small_vocab());
  EXPECT_EQ(tok.encode("aaa", false), (Ids{9, 4}));
}

TEST(TokenizerSpm, UnknownCharactersFallBackToByteTokensThenUnk) {
  const SpmTokenizer tok(small_vocab());
  EXPECT_EQ(tok.encode("\xC3\xA9", false), (Ids{10, 11}));  // é -> <0xC3> <0xA9>
  EXPECT_EQ(tok.encode("\xC3\xB1", false), (Ids{10, 0}));   // no <0xB1> piece -> <unk>
  TokenizerVocab no_unk = small_vocab();
  no_unk.unk = -1;
  no_unk.types[0] = TokenType::Normal;
  const SpmTokenizer strict(no_unk);
  EXPECT_THROW(strict.encode("\xC3\xB1", false), Error);
}

TEST(TokenizerSpm, SpacePrefixFollowsTheVocabularyFlag) {
  TokenizerVocab v = small_vocab();
  EXPECT_EQ(SpmTokenizer(v).encode("a b", false), (Ids{4, 3, 5}));
  v.add_space_prefix = true;
  EXPECT_EQ(SpmTokenizer(v).encode("a b", false), (Ids{3, 4, 3, 5}));
}

TEST(TokenizerSpm, InconsistentVocabulariesAreRejected) {
  TokenizerVocab dup = small_vocab();
  dup.pieces[5] = "a";
  EXPECT_THROW(SpmTokenizer{dup}, Error);
  TokenizerVocab short_scores = small_vocab();
  short_scores.scores.pop_back();
  EXPECT_THROW(SpmTokenizer{short_scores}, Error);
  TokenizerVocab bad_bos = small_vocab();
  bad_bos.bos = 99;
  EXPECT_THROW(SpmTokenizer{bad_bos}, Error);
  TokenizerVocab no_bos = small_vocab();
  no_bos.bos = -1;
  EXPECT_THROW(SpmTokenizer(no_bos).encode("a", true), Error);
}

}  // namespace
}  // namespace vkq::model
