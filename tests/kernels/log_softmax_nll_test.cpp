// log_softmax_nll vs the float64 reference: vocabularies from 1 to 256k, strided logits with
// an output offset, large logits (max subtraction), poisoned output.
#include <gtest/gtest.h>

#include <random>

#include "kernels/log_softmax_nll.hpp"
#include "reference/log_softmax_nll_ref.hpp"
#include "support/test_seed.hpp"
#include "support/vk_test_env.hpp"

namespace vkq {
namespace {

struct Case {
  uint32_t tokens, vocab, x_off, x_stride, out_off;
  float lo, hi;
};

class NllShapes : public testing::TestWithParam<Case> {};

TEST_P(NllShapes, MatchesReference) {
  const Case c = GetParam();
  const uint64_t seed = test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  auto& ctx = test::vk_context();
  const uint32_t stride = c.x_stride ? c.x_stride : c.vocab;
  auto x = test::random_floats(rng, c.x_off + size_t(c.tokens) * stride, c.lo, c.hi);
  std::vector<int32_t> targets(c.out_off + c.tokens, 0);
  std::uniform_int_distribution<int32_t> u(0, int32_t(c.vocab) - 1);
  for (auto& t : targets) t = u(rng);
  auto xb = vk::upload_new(ctx, x, "logits");
  auto tb = vk::upload_new(ctx, targets, "targets");
  auto nb = vk::upload_new(ctx, test::poisoned(c.out_off + c.tokens), "nll");
  kernels::LogSoftmaxNll k(ctx);
  vk::Stream s(ctx);
  k.run(s, xb, tb, nb, {c.tokens, c.vocab, c.x_off, c.x_stride, c.out_off});
  s.submit_and_wait();
  auto nll = vk::download_all<float>(ctx, nb, c.out_off + c.tokens);
  std::vector<double> xd(size_t(c.tokens) * c.vocab);
  for (uint32_t t = 0; t < c.tokens; ++t)
    for (uint32_t v = 0; v < c.vocab; ++v) xd[size_t(t) * c.vocab + v] = x[c.x_off + size_t(t) * stride + v];
  auto want = ref::log_softmax_nll_ref(xd, std::vector<int32_t>(targets.begin() + c.out_off, targets.end()), c.vocab);
  double err = 0;
  for (uint32_t t = 0; t < c.tokens; ++t) {
    ASSERT_TRUE(std::isfinite(nll[c.out_off + t])) << "token " << t;
    err = std::max(err, std::abs(double(nll[c.out_off + t]) - want[t]));
  }
  // Absolute: fp32 max + log(Kahan sum) - logit, each rounded at the logits' magnitude (<= 1000).
  const double tol = 4e-7 * std::max(1.0, double(std::max(std::abs(c.lo), std::abs(c.hi)))) + 2e-6;
  EXPECT_LT(err, tol);
}

INSTANTIATE_TEST_SUITE_P(Shapes, NllShapes,
                         testing::Values(Case{1, 1, 0, 0, 0, -1, 1}, Case{7, 33, 0, 0, 0, -5, 5},
                                         Case{33, 1000, 3, 1007, 4, -10, 10}, Case{2, 127, 0, 0, 0, 900, 1000},
                                         Case{3, 256000, 0, 0, 0, -8, 8}));

}  // namespace
}  // namespace vkq
