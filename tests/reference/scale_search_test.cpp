// GS (ALGORITHMS.md §3, §4): per-group clip search and AWQ-style activation-aware scale search.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "reference/grid.hpp"
#include "reference/objective.hpp"
#include "reference/regularize.hpp"
#include "reference/rtn.hpp"
#include "reference/scale_search.hpp"
#include "reference_fixtures.hpp"
#include "support/test_seed.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::ref {
namespace {

std::vector<double> widen(const std::vector<float>& v) { return {v.begin(), v.end()}; }

std::vector<double> h_tilde(const vkq::test::Calibration& c) {
  return regularized_gram(c.h, c.n, diag_mean(c.h, c.n), 0.01, 0, {});
}

TEST(ClipSearch, PicksTheArgminCandidatePerGroup) {
  const uint64_t seed = vkq::test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  for (GridFormat f : {GridFormat::INT, GridFormat::Q4_0, GridFormat::Q4_1})
    for (ClipScore score : {ClipScore::full_block, ClipScore::diagonal}) {
      const size_t n = f == GridFormat::INT ? 40 : 64, m = 6;
      GridSpec spec;
      spec.format = f;
      spec.bits = 3;
      spec.group = f == GridFormat::INT ? 16 : 32;
      ClipOptions clip;
      clip.enabled = true;
      clip.score = score;
      const auto c = vkq::test::correlated_calibration(rng, n, 2 * n);
      const auto hr = h_tilde(c);
      const auto w = widen(vkq::test::normal_weights(rng, m, n));
      const auto params = clip_search_params(w.data(), m, n, hr.data(), spec, clip);
      const size_t g = group_size(spec, n), ng = groups_per_row(spec, n);
      for (size_t i = 0; i < m; ++i)
        for (size_t k = 0; k < ng; ++k) {
          const size_t j0 = k * g, len = std::min(g, n - j0);
          const double* t = &w[i * n + j0];
          const double* hb = &hr[j0 * n + j0];
          const double chosen = clip_candidate_loss(t, len, hb, n, spec, params[i * ng + k], score);
          double best = INFINITY;
          for (int cand = 0; cand < clip.candidates; ++cand)
            best = std::min(best, clip_candidate_loss(t, len, hb, n, spec, params_for(t, len, spec, 1 - cand * clip.step), score));
          EXPECT_EQ(chosen, best);
          EXPECT_LE(chosen, clip_candidate_loss(t, len, hb, n, spec, params_for(t, len, spec), score));
        }
    }
}

TEST(ClipSearch, DiagonalScoreEqualsFullBlockOnADiagonalMatrix) {
  const uint64_t seed = vkq::test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  const size_t n = 33, m = 4;
  std::vector<double> h(n * n, 0.0);
  std::uniform_real_distribution<double> u(0.5, 2.0);
  for (size_t j = 0; j < n; ++j) h[j * n + j] = u(rng);
  const auto w = widen(vkq::test::normal_weights(rng, m, n));
  GridSpec spec;
  spec.group = 8;
  ClipOptions full, diag;
  full.enabled = diag.enabled = true;
  diag.score = ClipScore::diagonal;
  const auto a = clip_search_params(w.data(), m, n, h.data(), spec, full);
  const auto b = clip_search_params(w.data(), m, n, h.data(), spec, diag);
  for (size_t k = 0; k < a.size(); ++k) EXPECT_EQ(a[k].scale, b[k].scale);
}

TEST(ClipSearch, RejectsRangesThatShrinkToNothing) {
  ClipOptions clip;
  clip.step = 0.1;
  clip.candidates = 11;
  EXPECT_THROW(validate_clip(clip), vkq::Error);
  clip.candidates = 0;
  EXPECT_THROW(validate_clip(clip), vkq::Error);
}

TEST(AwqSearch, ZeroExponentIsPlainRtnAndTheBestIsNoWorse) {
  const uint64_t seed = vkq::test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  for (GridFormat f : {GridFormat::INT, GridFormat::Q4_0}) {
    const size_t n = 64;
    GridSpec spec;
    spec.format = f;
    spec.bits = 3;
    spec.group = 32;
    const auto c = vkq::test::correlated_calibration(rng, n, 128, 3, 10.0);
    const auto hr = h_tilde(c);
    const size_t rows[3] = {16, 8, 8};  // q, k, v sharing one input
    std::vector<std::vector<double>> ws;
    std::vector<AwqLayer> layers;
    for (size_t r : rows) ws.push_back(widen(vkq::test::normal_weights(rng, r, n)));
    for (size_t l = 0; l < 3; ++l) layers.push_back({ws[l].data(), nullptr, rows[l]});

    const AwqResult res = awq_scale_search(layers, n, hr, c.mean_abs, spec);
    ASSERT_EQ(res.losses.size(), 20u);
    EXPECT_EQ(res.exponents[0], 0.0);
    EXPECT_DOUBLE_EQ(res.exponents[19], 19.0 / 20);

    double rtn = 0;
    for (size_t l = 0; l < 3; ++l) {
      const auto e = rtn_quantize(ws[l].data(), rows[l], n, spec, ClipOptions{}, nullptr);
      const auto q = decode_matrix(e, spec);
      for (double v : rows_quadratic_loss(ws[l].data(), q.data(), rows[l], n, hr.data())) rtn += v;
    }
    EXPECT_EQ(res.losses[0], rtn);
    EXPECT_LE(res.best_loss, res.losses[0]);
    EXPECT_EQ(res.best_loss, res.losses[res.best]);
    for (double l : res.losses) EXPECT_GE(l, res.best_loss);

    // An explicit target T = W scores the same.
    std::vector<AwqLayer> with_t = layers;
    for (auto& l : with_t) l.target = l.weights;
    EXPECT_EQ(awq_scale_search(with_t, n, hr, c.mean_abs, spec).losses, res.losses);

    const auto s = awq_channel_scales(c.mean_abs);
    ASSERT_EQ(res.scales.size(), n);
    for (size_t j = 0; j < n; ++j) EXPECT_DOUBLE_EQ(res.scales[j], std::pow(s[j], res.best_exponent));
  }
}

TEST(AwqSearch, ChannelScalesStraddleOneAndFloorDeadChannels) {
  const std::vector<double> mean_abs = {4.0, 1.0, 0.0, 0.25};
  const auto s = awq_channel_scales(mean_abs);
  double mx = 0, mn = INFINITY;
  for (double v : s) {
    EXPECT_GT(v, 0);
    mx = std::max(mx, v);
    mn = std::min(mn, v);
  }
  EXPECT_NEAR(mx * mn, 1.0, 1e-12);
  EXPECT_DOUBLE_EQ(s[2] / s[0], 1e-4);
  EXPECT_THROW(awq_channel_scales({0.0, 0.0}), vkq::Error);
}

}  // namespace
}  // namespace vkq::ref
