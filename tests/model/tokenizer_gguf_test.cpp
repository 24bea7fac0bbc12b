// make_tokenizer(GgufFile): llama.cpp's defaults and key handling, and a clear vkq::Error naming
// the file and the key for every missing or broken tokenizer key. Files are written per test.
#include <gtest/gtest.h>

#include "model/gguf.hpp"
#include "model/tokenizer.hpp"
#include "model/tokenizer_unicode.hpp"
#include "tokenizer_test_files.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::model {
namespace {

using Ids = std::vector<int32_t>;

// A small SentencePiece vocabulary: <unk> <s> </s> ▁ a b ▁a, scored so that ▁a merges.
void write_spm(test::TokenizerGgufWriter& g) {
  g.string("tokenizer.ggml.model", "llama");
  g.strings("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>", "\xE2\x96\x81", "a", "b", "\xE2\x96\x81" "a"});
  g.f32s("tokenizer.ggml.scores", {0, 0, 0, -3, -2, -2, -1});
  g.i32s("tokenizer.ggml.token_type", {2, 3, 3, 1, 1, 1, 1});
}

// A byte-level vocabulary: the 256 byte code points, "Ġa" and <|endoftext|>.
void write_bpe(test::TokenizerGgufWriter& g, const std::string& pre) {
  std::vector<std::string> tokens;
  for (int b = 0; b < 256; ++b) tokens.push_back(gpt2_byte_to_utf8(uint8_t(b)));
  tokens.push_back("\xC4\xA0" "a");
  tokens.push_back("<|endoftext|>");
  std::vector<int32_t> types(tokens.size(), 1);
  types.back() = 3;
  g.string("tokenizer.ggml.model", "gpt2");
  g.string("tokenizer.ggml.pre", pre);
  g.strings("tokenizer.ggml.tokens", tokens);
  g.i32s("tokenizer.ggml.token_type", types);
  g.strings("tokenizer.ggml.merges", {"\xC4\xA0 a"});
  g.u32("tokenizer.ggml.bos_token_id", 257);
  g.u32("tokenizer.ggml.eos_token_id", 257);
}

class TokenizerGguf : public ::testing::Test {
 protected:
  std::unique_ptr<Tokenizer> load(const test::TokenizerGgufWriter& g) {
    g.write(path_);
    return make_tokenizer(GgufFile::open(path_));
  }
  // Expects make_tokenizer to fail with a message naming the file and every one of `words`.
  void expect_error(const test::TokenizerGgufWriter& g, std::initializer_list<const char*> words) {
    try {
      load(g);
      ADD_FAILURE() << "expected vkq::Error";
    } catch (const Error& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(path_), std::string::npos) << what;
      for (const char* w : words) EXPECT_NE(what.find(w), std::string::npos) << "'" << w << "' missing from: " << what;
    }
  }
  test::TokenizerTempDir dir_;
  std::string path_ = dir_.file("vocab.gguf");
};

TEST_F(TokenizerGguf, SpmDefaultsFollowLlamaCpp) {
  test::TokenizerGgufWriter g;
  write_spm(g);
  const auto tok = load(g);
  EXPECT_EQ(tok->bos(), 1);  // defaults without the id keys
  EXPECT_EQ(tok->eos(), 2);
  EXPECT_EQ(tok->vocab().unk, 0);
  EXPECT_TRUE(tok->add_bos_by_default());
  EXPECT_EQ(tok->encode("a b", true), (Ids{1, 6, 3, 5}));  // "▁a" "▁" "b"
}

TEST_F(TokenizerGguf, SpmKeysOverrideDefaults) {
  test::TokenizerGgufWriter g;
  write_spm(g);
  g.boolean("tokenizer.ggml.add_space_prefix", false);
  g.boolean("tokenizer.ggml.add_bos_token", false);
  g.u32("tokenizer.ggml.bos_token_id", 2);
  g.u32("tokenizer.ggml.eos_token_id", 0xFFFFFFFFu);  // out of range: llama.cpp keeps its default
  const auto tok = load(g);
  EXPECT_FALSE(tok->add_bos_by_default());
  EXPECT_EQ(tok->bos(), 2);
  EXPECT_EQ(tok->eos(), 2);
  EXPECT_EQ(tok->encode("a b", false), (Ids{4, 3, 5}));
}

TEST_F(TokenizerGguf, BpeVocabularyWithMergesAndSpecials) {
  test::TokenizerGgufWriter g;
  write_bpe(g, "gpt-2");
  const auto tok = load(g);
  EXPECT_EQ(tok->n_vocab(), 258);
  EXPECT_FALSE(tok->add_bos_by_default());
  EXPECT_EQ(tok->encode("a a", true), (Ids{257, 'a', 256}));
  EXPECT_EQ(tok->encode("a<|endoftext|>", false, true), (Ids{'a', 257}));
}

TEST_F(TokenizerGguf, LlamaBpeWantsBosByDefault) {
  test::TokenizerGgufWriter g;
  write_bpe(g, "llama-bpe");
  EXPECT_TRUE(load(g)->add_bos_by_default());
}

TEST_F(TokenizerGguf, KnownEndOfTurnTokensBecomeControlTokens) {
  test::TokenizerGgufWriter g;
  g.string("tokenizer.ggml.model", "llama");
  g.strings("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>", "<|im_end|>", "", "x"});
  g.i32s("tokenizer.ggml.token_type", {2, 3, 3, 4, 1, 1});
  const auto tok = load(g);
  EXPECT_EQ(tok->vocab().type(3), TokenType::Control);  // user-defined in the file
  EXPECT_EQ(tok->vocab().pieces[4], "[EMPTY_4]");       // llama.cpp's name for empty pieces
}

TEST_F(TokenizerGguf, FimTokensArePromotedOnlyWhenTheirIdKeyIsAbsent) {
  test::TokenizerGgufWriter g;
  g.string("tokenizer.ggml.model", "llama");
  g.strings("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>", "<|fim_prefix|>", "<|fim_suffix|>", "<|channel|>"});
  g.i32s("tokenizer.ggml.token_type", {2, 3, 3, 4, 4, 1});
  g.u32("tokenizer.ggml.fim_suf_token_id", 1);
  const auto tok = load(g);
  EXPECT_EQ(tok->vocab().type(3), TokenType::Control);
  EXPECT_EQ(tok->vocab().type(4), TokenType::UserDefined);  // the file names another FIM suffix
  EXPECT_EQ(tok->vocab().type(5), TokenType::UserDefined);  // gpt-oss markers always match
}

TEST_F(TokenizerGguf, Phi3SpecialTokensSwallowFollowingWhitespace) {
  test::TokenizerGgufWriter g;
  g.string("general.name", "Phi-3 mini");
  g.string("tokenizer.ggml.model", "llama");
  g.strings("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>", "<|user|>", "\xE2\x96\x81", "a"});
  g.i32s("tokenizer.ggml.token_type", {2, 3, 3, 4, 1, 1});
  const auto tok = load(g);
  EXPECT_TRUE(tok->vocab().strip_of(3).right);
  EXPECT_TRUE(tok->vocab().strip_of(2).right);
  EXPECT_FALSE(tok->vocab().strip_of(1).right);
  // The space after <|user|> is stripped; the text after a special token gets the prefix space.
  EXPECT_EQ(tok->encode("<|user|> a", false), (Ids{3, 4, 5}));
}

TEST_F(TokenizerGguf, MissingModelKeyIsNamed) {
  test::TokenizerGgufWriter g;
  g.strings("tokenizer.ggml.tokens", {"a"});
  expect_error(g, {"tokenizer.ggml.model"});
}

TEST_F(TokenizerGguf, UnsupportedModelIsNamed) {
  test::TokenizerGgufWriter g;
  g.string("tokenizer.ggml.model", "bert");
  g.strings("tokenizer.ggml.tokens", {"a"});
  expect_error(g, {"tokenizer.ggml.model", "bert"});
}

TEST_F(TokenizerGguf, MissingTokensKeyIsNamed) {
  test::TokenizerGgufWriter g;
  g.string("tokenizer.ggml.model", "llama");
  expect_error(g, {"tokenizer.ggml.tokens"});
}

TEST_F(TokenizerGguf, ScoresOfTheWrongLengthAreNamed) {
  test::TokenizerGgufWriter g;
  g.string("tokenizer.ggml.model", "llama");
  g.strings("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>"});
  g.f32s("tokenizer.ggml.scores", {0, 0});
  expect_error(g, {"tokenizer.ggml.scores"});
}

TEST_F(TokenizerGguf, MistypedTokenTypesAreNamed) {
  test::TokenizerGgufWriter g;
  g.string("tokenizer.ggml.model", "llama");
  g.strings("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>"});
  g.strings("tokenizer.ggml.token_type", {"1", "1", "1"});
  expect_error(g, {"tokenizer.ggml.token_type"});
}

TEST_F(TokenizerGguf, BpeWithoutMergesIsNamed) {
  test::TokenizerGgufWriter g;
  g.string("tokenizer.ggml.model", "gpt2");
  g.strings("tokenizer.ggml.tokens", {"a", "b"});
  expect_error(g, {"tokenizer.ggml.merges"});
}

TEST_F(TokenizerGguf, UnsupportedPreTokenizerIsNamed) {
  test::TokenizerGgufWriter g;
  write_bpe(g, "deepseek-v3");
  expect_error(g, {"tokenizer.ggml.pre", "deepseek-v3"});
}

TEST_F(TokenizerGguf, DuplicatePiecesAreRejected) {
  test::TokenizerGgufWriter g;
  g.string("tokenizer.ggml.model", "llama");
  g.strings("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>", "x", "x"});
  expect_error(g, {"'x'"});
}

}  // namespace
}  // namespace vkq::model
