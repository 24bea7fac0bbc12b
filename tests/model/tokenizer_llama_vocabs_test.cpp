// Every vocabulary fixture llama.cpp ships (models/ggml-vocab-*.gguf with .inp/.out, from the vendored
// source the interop fixture unpacks): each one whose tokenizer vkquant supports must give llama.cpp's
// ids for every test input; the pre-tokenizers of the models vkquant runs (llama-spm, llama-bpe,
// qwen2, gpt-2) must be among them. Fixtures of unsupported tokenizers are listed, not failed.
// Skipped when the source is not unpacked (the ctest entry interop.tokenizers requires it).
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <string>

#include "model/gguf.hpp"
#include "model/tokenizer.hpp"
#include "vkquant/vkquant.hpp"
#include "vocab_fixture.hpp"

#ifndef VKQ_LLAMA_VOCAB_DIR
#define VKQ_LLAMA_VOCAB_DIR ""
#endif

namespace vkq::model {
namespace {

namespace fs = std::filesystem;

TEST(LlamaCppVocabFixtures, SupportedTokenizersGiveLlamaCppIds) {
  const fs::path dir = VKQ_LLAMA_VOCAB_DIR;
  if (!fs::is_directory(dir)) {
    if (std::getenv("VKQ_REQUIRE_LLAMA_VOCABS")) FAIL() << dir << " is missing";
    GTEST_SKIP() << "llama.cpp's vocabulary fixtures are not unpacked (" << dir << "): run ctest -L interop";
  }
  std::set<std::string> matched;
  size_t fixtures = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (e.path().extension() != ".inp") continue;
    const std::string gguf = (dir / name.substr(0, name.size() - 4)).string();  // strip ".inp"
    const std::string vocab = name.substr(std::string("ggml-vocab-").size(), name.size() - 20);  // NAME.gguf.inp
    ++fixtures;
    std::unique_ptr<Tokenizer> tok;
    try {
      tok = make_tokenizer(GgufFile::open(gguf));
    } catch (const Error& err) {
      std::printf("%-16s not supported: %s\n", vocab.c_str(), err.what());
      continue;
    }
    const auto fx = test::read_vocab_fixture(gguf);
    ASSERT_EQ(fx.inputs.size(), fx.expected.size()) << gguf;
    size_t same = 0;
    for (size_t i = 0; i < fx.inputs.size(); ++i) {
      const auto got = tok->encode(fx.inputs[i], false, false);
      EXPECT_EQ(got, fx.expected[i]) << vocab << " case " << i << ": '" << fx.inputs[i] << "'";
      same += got == fx.expected[i];
    }
    std::printf("%-16s %zu of %zu inputs give llama.cpp's ids\n", vocab.c_str(), same, fx.inputs.size());
    if (same == fx.inputs.size()) matched.insert(vocab);
  }
  EXPECT_GT(fixtures, 0u) << "no fixtures in " << dir;
  for (const char* needed : {"llama-spm", "llama-bpe", "qwen2", "gpt-2"})
    EXPECT_TRUE(matched.count(needed)) << needed << " must be supported and match";
}

}  // namespace
}  // namespace vkq::model
