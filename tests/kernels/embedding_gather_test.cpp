// embedding_gather vs the float64 reference: exact copies of the right rows for awkward widths,
// repeated and boundary ids, poisoned output; an id past the vocabulary gives NaN, not a crash.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "kernels/embedding_gather.hpp"
#include "reference/elementwise_ref.hpp"
#include "support/test_seed.hpp"
#include "support/vk_test_env.hpp"

namespace vkq {
namespace {

struct Case {
  uint32_t tokens, cols, vocab;
};

class GatherShapes : public testing::TestWithParam<Case> {};

TEST_P(GatherShapes, CopiesRowsExactly) {
  const Case c = GetParam();
  const uint64_t seed = test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  auto& ctx = test::vk_context();
  auto emb = test::random_floats(rng, size_t(c.vocab) * c.cols);
  std::vector<int32_t> ids(c.tokens);
  std::uniform_int_distribution<int32_t> u(0, int32_t(c.vocab) - 1);
  for (auto& i : ids) i = u(rng);
  ids[0] = int32_t(c.vocab) - 1;
  auto eb = vk::upload_new(ctx, emb, "emb");
  auto ib = vk::upload_new(ctx, ids, "ids");
  auto ob = vk::upload_new(ctx, test::poisoned(size_t(c.tokens) * c.cols), "out");
  kernels::EmbeddingGather k(ctx);
  vk::Stream s(ctx);
  k.run(s, eb, ib, ob, c.tokens, c.cols, c.vocab);
  s.submit_and_wait();
  auto want = ref::embedding_gather_ref(std::vector<double>(emb.begin(), emb.end()), ids, c.cols);
  EXPECT_EQ(test::max_rel_error(vk::download_all<float>(ctx, ob, want.size()), want), 0.0);  // a copy: exact
}

INSTANTIATE_TEST_SUITE_P(Shapes, GatherShapes,
                         testing::Values(Case{1, 1, 1}, Case{7, 33, 5}, Case{129, 127, 512}, Case{300, 64, 32000}));

TEST(EmbeddingGather, IdPastVocabularyGivesNan) {
  auto& ctx = test::vk_context();
  auto eb = vk::upload_new(ctx, std::vector<float>(12, 1.f), "emb");
  auto ib = vk::upload_new(ctx, std::vector<uint32_t>{1, 3}, "ids");
  auto ob = vk::upload_new(ctx, std::vector<float>(8, 0.f), "out");
  kernels::EmbeddingGather k(ctx);
  vk::Stream s(ctx);
  k.run(s, eb, ib, ob, 2, 4, 3);
  s.submit_and_wait();
  auto o = vk::download_all<float>(ctx, ob, 8);
  EXPECT_EQ(o[0], 1.f);
  EXPECT_TRUE(std::isnan(o[4]));
}

}  // namespace
}  // namespace vkq
