// Greedy generation reproduces llama2.c's known-good outputs byte for byte (shared/data README):
// `run stories260K.bin -z tok512.bin -t 0 -n 200` from the .bin + tok512.bin and from the .gguf
// with its embedded vocabulary, and the "Zoo" prompt with -n 60.
#include <gtest/gtest.h>

#include "forward/greedy_generate.hpp"
#include "forward_fixture.hpp"
#include "model/gguf.hpp"
#include "support/vk_test_env.hpp"

namespace vkq {
namespace {

struct Loaded {
  model::ModelWeights weights;
  std::unique_ptr<model::Tokenizer> tok;
};

Loaded load(bool gguf) {
  auto w = model::ModelWeights::open(gguf ? test::stories_gguf() : test::stories_bin());
  auto t = gguf ? model::make_tokenizer(*w.gguf()) : model::make_tokenizer_llama2c(test::stories_tok());
  return {std::move(w), std::move(t)};
}

class Greedy : public testing::TestWithParam<bool> {};

TEST_P(Greedy, ReproducesReferenceOutput) {
  Loaded l = load(GetParam());
  forward::TransformerModel m(test::vk_context(), l.weights);
  const auto r = forward::generate_greedy(m, *l.tok, "", 200);
  EXPECT_EQ(r.text, test::read_text(test::data_path("tinystories-260k/ref_greedy_t0_n200.txt")));
  EXPECT_EQ(r.tokens.size(), 201u);  // BOS + 200 predictions: BOS never came back
}

TEST_P(Greedy, ReproducesZooPrompt) {
  Loaded l = load(GetParam());
  EXPECT_EQ(l.tok->encode("Zoo", true), (std::vector<int32_t>{1, 410, 469, 347}));
  forward::TransformerModel m(test::vk_context(), l.weights);
  const auto r = forward::generate_greedy(m, *l.tok, "Zoo", 60);
  EXPECT_EQ(r.text, test::read_text(test::data_path("tinystories-260k/ref_prompt_Zoo_t0_n60.txt")));
}

INSTANTIATE_TEST_SUITE_P(Sources, Greedy, testing::Values(true, false),
                         [](const testing::TestParamInfo<bool>& i) { return i.param ? "gguf" : "llama2c"; });

}  // namespace
}  // namespace vkq
