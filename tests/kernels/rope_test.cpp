// rope vs the float64 reference: both layouts, partial rotation, linear scaling, positions past
// the initial table (growth), strided rows; dims past rot_dim must come back unchanged.
#include <gtest/gtest.h>

#include <random>

#include "kernels/rope.hpp"
#include "reference/rope_ref.hpp"
#include "support/test_seed.hpp"
#include "support/vk_test_env.hpp"

namespace vkq {
namespace {

struct Case {
  uint32_t tokens, heads, head_dim, rot_dim;
  bool neox;
  double base, scale;
  uint32_t stride;  // 0: packed
  int32_t max_pos;
};

class RopeShapes : public testing::TestWithParam<Case> {};

TEST_P(RopeShapes, MatchesReference) {
  const Case c = GetParam();
  const uint64_t seed = test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  auto& ctx = test::vk_context();
  const uint32_t width = c.heads * c.head_dim, stride = c.stride ? c.stride : width;
  auto x = test::random_floats(rng, size_t(c.tokens) * stride);
  std::vector<int32_t> pos(c.tokens);
  std::uniform_int_distribution<int32_t> up(0, c.max_pos);
  for (auto& p : pos) p = up(rng);
  auto xb = vk::upload_new(ctx, x, "x");
  auto pb = vk::upload_new(ctx, pos, "positions");
  kernels::Rope k(ctx, {c.rot_dim, c.base, c.scale, c.neox}, 16);
  k.ensure_positions(uint32_t(c.max_pos) + 1);
  vk::Stream s(ctx);
  k.run(s, xb, pb, {c.tokens, c.heads, c.head_dim, 0, c.stride});
  s.submit_and_wait();
  auto y = vk::download_all<float>(ctx, xb, x.size());
  std::vector<double> xd(size_t(c.tokens) * width);
  std::vector<float> got(xd.size());
  for (uint32_t t = 0; t < c.tokens; ++t)
    for (uint32_t j = 0; j < width; ++j) {
      xd[size_t(t) * width + j] = x[size_t(t) * stride + j];
      got[size_t(t) * width + j] = y[size_t(t) * stride + j];
    }
  ref::rope_ref(xd, pos, {c.heads, c.head_dim, c.rot_dim, c.base, c.scale, c.neox});
  // cos/sin rounded to fp32 in the table, one fp32 multiply-add: ~2 ulps of |x| <= sqrt(2).
  EXPECT_LT(test::max_rel_error(got, xd), 1e-6);
  for (uint32_t t = 0; t < c.tokens; ++t)  // padding between rows is untouched
    for (uint32_t j = width; j < stride; ++j) EXPECT_EQ(y[size_t(t) * stride + j], x[size_t(t) * stride + j]);
}

INSTANTIATE_TEST_SUITE_P(Shapes, RopeShapes,
                         testing::Values(Case{1, 1, 2, 2, false, 10000, 1, 0, 0},
                                         Case{7, 3, 8, 8, false, 10000, 1, 0, 511},
                                         Case{33, 4, 64, 32, true, 10000, 2.0, 0, 100},
                                         Case{129, 2, 130, 128, true, 500000, 1, 263, 4000},
                                         Case{5, 7, 6, 4, false, 10000, 4.0, 45, 33}));

// Llama 3's rope_freqs: each pair's frequency divided by its factor (here 1 … 8 across the pairs).
TEST(Rope, FrequencyFactorsMatchReference) {
  const uint64_t seed = test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  auto& ctx = test::vk_context();
  const uint32_t tokens = 17, heads = 3, head_dim = 16, rot = 16;
  std::vector<double> factors(rot / 2);
  for (size_t i = 0; i < factors.size(); ++i) factors[i] = 1.0 + double(i);
  auto x = test::random_floats(rng, size_t(tokens) * heads * head_dim);
  std::vector<int32_t> pos(tokens);
  for (uint32_t t = 0; t < tokens; ++t) pos[t] = int32_t(t * 37 % 300);
  auto xb = vk::upload_new(ctx, x, "x");
  auto pb = vk::upload_new(ctx, pos, "positions");
  kernels::Rope k(ctx, {rot, 500000.0, 1.0, false, factors}, 300);
  vk::Stream s(ctx);
  k.run(s, xb, pb, {tokens, heads, head_dim, 0, 0});
  s.submit_and_wait();
  std::vector<double> want(x.begin(), x.end()), plain(x.begin(), x.end());
  ref::rope_ref(want, pos, {heads, head_dim, rot, 500000.0, 1.0, false, factors});
  ref::rope_ref(plain, pos, {heads, head_dim, rot, 500000.0, 1.0, false, {}});
  const auto got = vk::download_all<float>(ctx, xb, x.size());
  EXPECT_LT(test::max_rel_error(got, want), 1e-6);
  EXPECT_GT(test::max_rel_error(got, plain), 1e-2) << "the factors changed nothing";
  EXPECT_THROW(kernels::Rope(ctx, {rot, 10000, 1, false, {1.0, 2.0}}, 8), Error);  // 2 factors for 8 pairs
  EXPECT_THROW(kernels::Rope(ctx, {4, 10000, 1, false, {1.0, 0.0}}, 8), Error);   // a zero factor
}

TEST(Rope, RejectsOddRotation) {
  auto& ctx = test::vk_context();
  EXPECT_THROW(kernels::Rope(ctx, {3, 10000, 1, false}, 8), Error);
}

}  // namespace
}  // namespace vkq
