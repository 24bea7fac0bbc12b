// RTN (ALGORITHMS.md §4): Q = grid(T) with min-max params, or clip-searched params that never
// score worse per group than min-max.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "reference/grid.hpp"
#include "reference/regularize.hpp"
#include "reference/rtn.hpp"
#include "reference/scale_search.hpp"
#include "reference_fixtures.hpp"
#include "support/test_seed.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::ref {
namespace {

TEST(Rtn, MinMaxIsThePlainGridEncoding) {
  const uint64_t seed = vkq::test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  for (size_t n : {1u, 7u, 33u, 129u}) {
    const auto wf = vkq::test::normal_weights(rng, 5, n);
    const std::vector<double> t(wf.begin(), wf.end());
    GridSpec spec;
    spec.bits = 3;
    spec.group = 16;
    const EncodedMatrix a = rtn_quantize(t.data(), 5, n, spec, ClipOptions{}, nullptr);
    const EncodedMatrix b = encode_matrix(t.data(), 5, n, spec);
    EXPECT_EQ(a.codes, b.codes) << "n=" << n;
    EXPECT_EQ(decode_matrix(a, spec), decode_matrix(b, spec));
  }
}

TEST(Rtn, ClipSearchNeverScoresWorsePerGroup) {
  const uint64_t seed = vkq::test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  for (GridFormat f : {GridFormat::INT, GridFormat::Q4_1, GridFormat::Q8_0}) {
    const size_t n = 64, m = 6;
    GridSpec spec;
    spec.format = f;
    spec.bits = 3;
    spec.group = 32;
    const auto c = vkq::test::correlated_calibration(rng, n, 160);
    const auto hr = regularized_gram(c.h, n, diag_mean(c.h, n), 0.01, 0, {});
    const auto wf = vkq::test::normal_weights(rng, m, n);
    const std::vector<double> t(wf.begin(), wf.end());
    ClipOptions clip;
    clip.enabled = true;
    const EncodedMatrix searched = rtn_quantize(t.data(), m, n, spec, clip, hr.data());
    const EncodedMatrix minmax = rtn_quantize(t.data(), m, n, spec, ClipOptions{}, nullptr);
    size_t better = 0;
    for (size_t i = 0; i < m; ++i)
      for (size_t k = 0; k < 2; ++k) {
        const double* tg = &t[i * n + k * 32];
        const double* hb = &hr[k * 32 * n + k * 32];
        const double ls = clip_candidate_loss(tg, 32, hb, n, spec, searched.params[i * 2 + k], clip.score);
        const double lm = clip_candidate_loss(tg, 32, hb, n, spec, minmax.params[i * 2 + k], clip.score);
        EXPECT_LE(ls, lm);
        better += ls < lm;
      }
    if (f == GridFormat::INT) {  // 3-bit min-max grids are coarse: some group always gains (8-bit may not)
      EXPECT_GT(better, 0u) << "the search never found a better clip";
    }
  }
  EXPECT_THROW(rtn_quantize(nullptr, 1, 32, GridSpec{}, ClipOptions{true}, nullptr), vkq::Error);
}

}  // namespace
}  // namespace vkq::ref
