// attention vs the float64 reference, both forms (a workgroup per row, a lane per row): grouped-query
// heads, packed causal sequences, head sizes 1 to 130 (vec4 and scalar load paths, several workgroup
// sizes), strided operands, key ranges (as a KV cache would give) including an empty one, poisoned output.
#include <gtest/gtest.h>

#include <random>

#include "kernels/attention.hpp"
#include "reference/attention_ref.hpp"
#include "support/test_seed.hpp"
#include "support/vk_test_env.hpp"

namespace vkq {
namespace {

std::vector<double> to_d(const std::vector<float>& v) { return {v.begin(), v.end()}; }

struct Run {
  uint32_t heads, kv_heads, head_dim, kv_rows;
  std::vector<kernels::KeyRange> ranges;
  uint32_t pad = 0;  // extra elements per row of q, k, v and out (strided case)
};

void check(const Run& r, std::mt19937_64& rng) {
  auto& ctx = test::vk_context();
  const uint32_t tokens = uint32_t(r.ranges.size());
  const uint32_t qw = r.heads * r.head_dim, kvw = r.kv_heads * r.head_dim;
  const uint32_t qs = qw + r.pad, kvs = kvw + r.pad;
  auto q = test::random_floats(rng, size_t(tokens) * qs, -2, 2);
  auto k = test::random_floats(rng, size_t(r.kv_rows) * kvs, -2, 2);
  auto v = test::random_floats(rng, size_t(r.kv_rows) * kvs);
  auto qb = vk::upload_new(ctx, q, "q");
  auto kb = vk::upload_new(ctx, k, "k");
  auto vb = vk::upload_new(ctx, v, "v");
  auto rb = vk::upload_new(ctx, r.ranges, "ranges");
  kernels::AttentionShape sh;
  sh.tokens = tokens, sh.heads = r.heads, sh.kv_heads = r.kv_heads, sh.head_dim = r.head_dim, sh.kv_rows = r.kv_rows;
  sh.q_stride = qs, sh.kv_stride = kvs, sh.o_stride = qs;
  auto unpad = [](const std::vector<float>& a, uint32_t rows, uint32_t w, uint32_t st) {
    std::vector<float> out(size_t(rows) * w);
    for (uint32_t i = 0; i < rows; ++i)
      for (uint32_t j = 0; j < w; ++j) out[size_t(i) * w + j] = a[size_t(i) * st + j];
    return out;
  };
  std::vector<std::pair<uint32_t, uint32_t>> rr;
  for (auto x : r.ranges) rr.push_back({x.begin, x.end});
  auto want = ref::attention_ref(to_d(unpad(q, tokens, qw, qs)), to_d(unpad(k, r.kv_rows, kvw, kvs)),
                                 to_d(unpad(v, r.kv_rows, kvw, kvs)), rr, {r.heads, r.kv_heads, r.head_dim});
  for (auto form : {kernels::RowForm::WorkgroupPerRow, kernels::RowForm::LanePerRow}) {
    SCOPED_TRACE(form == kernels::RowForm::LanePerRow ? "lane per row" : "workgroup per row");
    auto ob = vk::upload_new(ctx, test::poisoned(size_t(tokens) * qs), "out");
    kernels::Attention att(ctx, form);
    vk::Stream s(ctx);
    att.run(s, qb, kb, vb, ob, rb, sh);
    s.submit_and_wait();
    auto o = vk::download_all<float>(ctx, ob, size_t(tokens) * qs);
    // fp32 dot products (|q·k| <= 4·head_dim), exp and sums over <= 300 keys: ~1e-6 of max |out|.
    EXPECT_LT(test::max_rel_error(unpad(o, tokens, qw, qs), want), 2e-5);
  }
}

TEST(Attention, CausalSequencesMatchReference) {
  const uint64_t seed = test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  check({1, 1, 1, 1, kernels::causal_ranges({1})}, rng);
  check({4, 2, 8, 7, kernels::causal_ranges({7})}, rng);
  check({8, 8, 64, 54, kernels::causal_ranges({33, 1, 20})}, rng);
  check({6, 2, 130, 129, kernels::causal_ranges({129})}, rng);  // 3 head dims per lane
  check({2, 1, 16, 300, kernels::causal_ranges({300})}, rng);
  // More rows than one LanePerRow workgroup holds, not a multiple of it (65 tokens × 3 heads); the
  // sequence boundary at token 37 falls inside one invocation's block of 8 tokens.
  check({3, 1, 8, 65, kernels::causal_ranges({37, 28})}, rng);
}

TEST(Attention, StridedOperandsAndArbitraryRanges) {
  const uint64_t seed = test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  // A decode step against a cache: a few queries, each over its own slice of 127 key rows.
  check({9, 3, 33, 127, {{0, 127}, {5, 6}, {100, 127}, {64, 65}}, 5}, rng);
  // Strided but 4-aligned rows take the vec4 load path.
  check({4, 2, 32, 50, {{0, 50}, {10, 11}, {49, 50}}, 4}, rng);
  // An empty range gives a zero row, not NaN.
  check({2, 2, 7, 10, {{3, 3}, {0, 10}}}, rng);
}

TEST(Attention, RejectsBadHeadCounts) {
  auto& ctx = test::vk_context();
  vk::Buffer b(ctx, 4096, vk::MemoryUse::Device, "b");
  kernels::Attention att(ctx);
  vk::Stream s(ctx);
  kernels::AttentionShape sh;
  sh.tokens = 1, sh.heads = 3, sh.kv_heads = 2, sh.head_dim = 4, sh.kv_rows = 1;
  EXPECT_THROW(att.run(s, b, b, b, b, b, sh), Error);
}

}  // namespace
}  // namespace vkq
