// Pre-tokenizer splits. Expected words were produced by Python's `regex` module running the
// patterns llama.cpp lists for each pre-tokenizer (each pattern splitting the previous pieces,
// unmatched gaps kept), so they check the hand-written splitters against real regex semantics.
#include <gtest/gtest.h>

#include "model/tokenizer_pretokenizer.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::model {
namespace {

using Words = std::vector<std::string>;

Words split(std::string_view text, const char* pre) { return pre_tokenize(text, pre_tokenizer_for(pre, "test").kind); }

TEST(TokenizerPreTokenizer, Gpt2ContractionsLettersNumbersAndTrailingSpaces) {
  EXPECT_EQ(split("Hello world's  fine, 123abc\n\n x  ", "gpt-2"),
            (Words{"Hello", " world", "'s", " ", " fine", ",", " 123", "abc", "\n\n", " x", "  "}));
}

TEST(TokenizerPreTokenizer, Llama3CaseInsensitiveContractionsDigitTriplesAndNewlines) {
  EXPECT_EQ(split("I'VE got 12345 apples!!\n\n  ok\t\n", "llama-bpe"),
            (Words{"I", "'VE", " got", " ", "123", "45", " apples", "!!\n\n", " ", " ok", "\t\n"}));
}

TEST(TokenizerPreTokenizer, Qwen2SplitsEveryDigit) {
  EXPECT_EQ(split("abc 2024\xE5\xB9\xB4 don'T", "qwen2"),
            (Words{"abc", " ", "2", "0", "2", "4", "\xE5\xB9\xB4", " don", "'T"}));
}

TEST(TokenizerPreTokenizer, SmollmIsolatesDigitsBeforeGpt2) {
  EXPECT_EQ(split("year 2024, 'tis", "smollm"), (Words{"year", " ", "2", "0", "2", "4", ",", " '", "tis"}));
}

TEST(TokenizerPreTokenizer, DefaultChainSplitsPunctuationFirstAndDigitsInThrees) {
  EXPECT_EQ(split("y'all $5+3=8 1234567 ok", "default"),
            (Words{"y", "'", "all", " ", "$", "5", "+", "3", "=", "8", " ", "123", "456", "7", " ok"}));
}

TEST(TokenizerPreTokenizer, NonAsciiLettersAndNumbersUseUnicodeCategories) {
  // é is \p{L}, ² is \p{N} (No), U+00A0 is whitespace.
  EXPECT_EQ(split("caf\xC3\xA9 x\xC2\xB2\xC2\xA0y", "gpt-2"), (Words{"caf\xC3\xA9", " x", "\xC2\xB2", "\xC2\xA0", "y"}));
}

TEST(TokenizerPreTokenizer, InvalidUtf8BecomesReplacementCharacters) {
  // Each malformed byte is one U+FFFD, as llama.cpp decodes it.
  EXPECT_EQ(split("a\xFF\xC3", "gpt-2"), (Words{"a", "\xEF\xBF\xBD\xEF\xBF\xBD"}));
}

TEST(TokenizerPreTokenizer, SequencesBeyondTheUnicodeRangeAreAnError) {
  EXPECT_THROW(split("a\xF4\x90\x80\x80", "gpt-2"), Error);  // would be U+110000
}

TEST(TokenizerPreTokenizer, EmptyTextHasNoWords) { EXPECT_TRUE(split("", "gpt-2").empty()); }

TEST(TokenizerPreTokenizer, NamesMapToLlamaCppBehaviour) {
  EXPECT_EQ(pre_tokenizer_for("llama-bpe", "f").kind, PreTokenizerKind::Llama3);
  EXPECT_TRUE(pre_tokenizer_for("llama-bpe", "f").ignore_merges);
  EXPECT_TRUE(pre_tokenizer_for("llama-bpe", "f").bos_by_default);
  EXPECT_FALSE(pre_tokenizer_for("dbrx", "f").ignore_merges);
  EXPECT_EQ(pre_tokenizer_for("gpt2", "f").kind, PreTokenizerKind::Gpt2);
  EXPECT_EQ(pre_tokenizer_for("", "f").kind, PreTokenizerKind::Default);
}

TEST(TokenizerPreTokenizer, UnknownNameIsAnErrorNamingItAndTheFile) {
  try {
    pre_tokenizer_for("deepseek-v3", "model.gguf");
    FAIL() << "expected vkq::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("deepseek-v3"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("model.gguf"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("tokenizer.ggml.pre"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace vkq::model
