// The two perplexity protocols on stories260K: llama-perplexity's (chunks of ctx tokens, BOS written
// over each chunk's first token, second half scored) rebuilt here from TransformerModel::nll on
// hand-made windows, and the errors for texts too short or windows too small.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "calibrate/perplexity_eval.hpp"
#include "model/model_weights.hpp"
#include "model/tokenizer.hpp"
#include "support/test_seed.hpp"
#include "support/vk_test_env.hpp"

namespace vkq {
namespace {

std::string stories_text(size_t bytes) {
  std::ifstream in(test::data_path("tinystories-valid/tinystories_val.txt"), std::ios::binary);
  std::string s(bytes, '\0');
  in.read(s.data(), std::streamsize(bytes));
  s.resize(size_t(in.gcount()));
  return s;
}

TEST(PerplexityEval, LlamaProtocolScoresTheSecondHalfOfEachChunk) {
  auto w = model::ModelWeights::open(test::data_path("tinystories-260k/stories260K.gguf"));
  auto tok = model::make_tokenizer(*w.gguf());
  forward::TransformerModel m(test::vk_context(), w);
  const std::string text = stories_text(3000) + "\n";
  const uint32_t ctx = 37;  // odd: first = 18, 18 predictions per chunk
  const auto scored = calibrate::score_text(m, *tok, text, PerplexityProtocol::Llama, ctx, 5, nullptr, nullptr);

  // By hand: the text without its trailing newline, with the model's BOS choice, cut into chunks.
  const auto ids = tok->encode(text.substr(0, text.size() - 1), tok->add_bos_by_default());
  ASSERT_GE(ids.size(), 5u * ctx);
  double sum = 0;
  for (size_t c = 0; c < 5; ++c) {
    std::vector<int32_t> window(ids.begin() + long(c * ctx), ids.begin() + long((c + 1) * ctx));
    window[0] = tok->bos();
    sum += m.nll(window, ctx / 2).sum;
  }
  EXPECT_EQ(scored.ctx, ctx);
  EXPECT_EQ(scored.nll.windows, 5u);
  EXPECT_EQ(scored.nll.tokens, 5u * (ctx - ctx / 2 - 1));
  EXPECT_DOUBLE_EQ(scored.nll.sum, sum);  // the same device computations in the same order

  // No --chunks: floor(tokens / ctx) chunks, the tail dropped.
  const auto all = calibrate::score_text(m, *tok, text, PerplexityProtocol::Llama, ctx, 0, nullptr, nullptr);
  EXPECT_EQ(all.nll.windows, ids.size() / ctx);
  // The default window is llama-perplexity's 512.
  const auto dflt = calibrate::score_text(m, *tok, text, PerplexityProtocol::Llama, 0, 1, nullptr, nullptr);
  EXPECT_EQ(dflt.ctx, 512u);
  EXPECT_EQ(dflt.nll.tokens, 255u);
}

TEST(PerplexityEval, LlamaProtocolRejectsShortTextsAndTinyWindows) {
  auto w = model::ModelWeights::open(test::data_path("tinystories-260k/stories260K.gguf"));
  auto tok = model::make_tokenizer(*w.gguf());
  forward::TransformerModel m(test::vk_context(), w);
  const std::string text = stories_text(400);
  const size_t n = tok->encode(text, true).size();
  try {
    calibrate::score_text(m, *tok, text, PerplexityProtocol::Llama, uint32_t(n / 2 + 1), 0, nullptr, nullptr);
    FAIL() << "a text shorter than 2 x ctx was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("needs at least 2 x ctx"), std::string::npos) << e.what();
  }
  EXPECT_THROW(calibrate::score_text(m, *tok, text, PerplexityProtocol::Llama, 3, 0, nullptr, nullptr), Error);
  // The default protocol scores the same text in windows of ctx, every token after the first.
  const auto windows = calibrate::score_text(m, *tok, text, PerplexityProtocol::Windows, 16, 0, nullptr, nullptr);
  EXPECT_EQ(windows.nll.tokens, n - (n + 15) / 16);
}

}  // namespace
}  // namespace vkq
