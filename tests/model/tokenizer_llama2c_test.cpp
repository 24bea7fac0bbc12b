// llama2.c's encoder on its own tokenizer file (tok512.bin), checked against the prompt ids
// llama2.c prints for stories260K and against the SPM tokenizer on the same model's GGUF vocab.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "model/gguf.hpp"
#include "model/tokenizer_llama2c.hpp"
#include "support/test_seed.hpp"
#include "tokenizer_test_files.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::model {
namespace {

using Ids = std::vector<int32_t>;

const std::string kTok512 = "tinystories-260k/tok512.bin";

TEST(TokenizerLlama2c, ZooPromptEncodesAsLlama2cDoes) {
  const auto tok = make_tokenizer_llama2c(test::data_path(kTok512));
  EXPECT_EQ(tok->n_vocab(), 512);
  EXPECT_EQ(tok->bos(), 1);
  EXPECT_EQ(tok->eos(), 2);
  EXPECT_EQ(tok->encode("Zoo", true), (Ids{1, 410, 469, 347}));
  EXPECT_EQ(tok->encode("Zoo", false), (Ids{410, 469, 347}));
}

TEST(TokenizerLlama2c, EmptyTextIsJustBos) {
  const auto tok = make_tokenizer_llama2c(test::data_path(kTok512));
  EXPECT_EQ(tok->encode("", true), Ids{1});
  EXPECT_EQ(tok->encode("", false), Ids{});
}

TEST(TokenizerLlama2c, CharactersOutsideTheVocabularyBecomeBytePlusThree) {
  const auto tok = make_tokenizer_llama2c(test::data_path(kTok512));
  // 中 = E4 B8 AD; none of its byte pairs merge in this vocabulary.
  EXPECT_EQ(tok->encode("\xE4\xB8\xAD", false), (Ids{410, 0xE4 + 3, 0xB8 + 3, 0xAD + 3}));
}

TEST(TokenizerLlama2c, DecodePieces) {
  const auto tok = make_tokenizer_llama2c(test::data_path(kTok512));
  EXPECT_EQ(tok->decode_piece(410), " ");
  EXPECT_EQ(tok->decode_piece(13), "\n");  // <0x0A>
  EXPECT_EQ(tok->decode_piece(469), "Z");
  EXPECT_THROW(tok->decode_piece(512), Error);
}

// Two independent encoders of the same vocabulary — llama2.c's over tok512.bin and llama.cpp's
// SPM over stories260K.gguf (U+2581 spaces) — must agree on real text.
TEST(TokenizerLlama2c, AgreesWithSpmOnTheGgufVocabularyOverTinyStories) {
  const auto l2c = make_tokenizer_llama2c(test::data_path(kTok512));
  const auto spm = make_tokenizer(GgufFile::open(test::data_path("tinystories-260k/stories260K.gguf")));
  std::ifstream f(test::data_path("tinystories-valid/tinystories_val.txt"), std::ios::binary);
  ASSERT_TRUE(f);
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string text = ss.str().substr(0, 100000);
  const Ids a = l2c->encode(text, true);
  EXPECT_GT(a.size(), 20000u);
  EXPECT_EQ(a, spm->encode(text, true));
}

TEST(TokenizerLlama2c, VocabularyWithoutLlama2cByteLayoutIsRejected) {
  TokenizerVocab v;
  v.source = "tiny.bin";
  v.pieces = {"<unk>", "<s>", "</s>", " ", "a"};
  v.scores = {0, 0, 0, 0, 0};
  try {
    Llama2cTokenizer t(v);
    FAIL() << "expected vkq::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tiny.bin"), std::string::npos) << e.what();
  }
}

TEST(TokenizerLlama2c, MissingFileIsAnErrorNamingIt) {
  test::TokenizerTempDir dir;
  const std::string path = dir.file("nope.bin");
  try {
    make_tokenizer_llama2c(path);
    FAIL() << "expected vkq::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace vkq::model
