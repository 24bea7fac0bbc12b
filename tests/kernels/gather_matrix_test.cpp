// gather_matrix vs a direct float64 gather: random permutations, column-only and row+column
// maps, awkward shapes, poisoned outputs; a permutation and its inverse round-trip exactly.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>

#include "kernels/gather_matrix.hpp"
#include "support/test_seed.hpp"
#include "support/vk_test_env.hpp"

namespace vkq {
namespace {

std::vector<uint32_t> random_permutation(std::mt19937_64& rng, uint32_t n) {
  std::vector<uint32_t> p(n);
  std::iota(p.begin(), p.end(), 0u);
  std::shuffle(p.begin(), p.end(), rng);
  return p;
}

class GatherMatrixShapes : public testing::TestWithParam<std::tuple<uint32_t, uint32_t, bool>> {};

TEST_P(GatherMatrixShapes, MatchesDirectGatherAndRoundTrips) {
  auto [m, n, map_rows] = GetParam();
  const uint64_t seed = test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  auto& ctx = test::vk_context();
  const uint32_t rows = map_rows ? n : m;  // row maps are used on square n x n matrices (D)
  auto a = test::random_floats(rng, size_t(rows) * n);
  const auto order = random_permutation(rng, n);
  auto src = vk::upload_new(ctx, a, "A");
  auto map = kernels::GatherMatrix::upload_map(ctx, order, n, "order");
  auto inv = kernels::GatherMatrix::upload_map(ctx, kernels::inverse_permutation(order), n, "inverse");
  auto out = vk::upload_new(ctx, test::poisoned(a.size()), "gathered");
  auto back = vk::upload_new(ctx, test::poisoned(a.size()), "restored");
  kernels::GatherMatrix g(ctx);
  vk::Stream s(ctx);
  g.run(s, src, rows, n, map_rows ? &map : nullptr, map, out, rows, n);
  s.barrier();
  g.run(s, out, rows, n, map_rows ? &inv : nullptr, inv, back, rows, n);
  s.submit_and_wait();
  const auto got = vk::download_all<float>(ctx, out, a.size());
  for (uint32_t i = 0; i < rows; ++i)
    for (uint32_t j = 0; j < n; ++j)
      ASSERT_EQ(got[i * n + j], a[(map_rows ? order[i] : i) * n + order[j]]) << i << "," << j;  // exact copy
  EXPECT_EQ(vk::download_all<float>(ctx, back, a.size()), a);
}

INSTANTIATE_TEST_SUITE_P(Awkward, GatherMatrixShapes,
                         testing::Combine(testing::Values(1u, 7u, 129u), testing::Values(1u, 33u, 127u, 300u),
                                          testing::Bool()));

TEST(GatherMatrix, RejectsBadMapsAndAliasing) {
  auto& ctx = test::vk_context();
  EXPECT_THROW(kernels::GatherMatrix::upload_map(ctx, {0, 5}, 5, "order"), Error);
  EXPECT_THROW(kernels::inverse_permutation({0, 0, 1}), Error);
  auto b = vk::upload_new(ctx, std::vector<float>(16, 1.f), "b");
  auto map = kernels::GatherMatrix::upload_map(ctx, {0, 1, 2, 3}, 4, "order");
  kernels::GatherMatrix g(ctx);
  vk::Stream s(ctx);
  EXPECT_THROW(g.run(s, b, 4, 4, nullptr, map, b, 4, 4), Error);
}

}  // namespace
}  // namespace vkq
