// GS (ALGORITHMS.md §3, §4): per-group clip search and AWQ-style activation-aware scale search.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "common/float16.hpp"
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

TEST(ScaleSearch, PicksTheArgminOverWidenedCandidatesAndRefits) {
  const uint64_t seed = vkq::test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  for (GridFormat f : {GridFormat::INT, GridFormat::Q4_0, GridFormat::Q4_1, GridFormat::Q8_0})
    for (ClipScore score : {ClipScore::full_block, ClipScore::diagonal}) {
      const size_t n = 64, m = 5;
      GridSpec spec;
      spec.format = f;
      spec.bits = 3;
      spec.group = 32;
      ClipOptions clip;
      clip.enabled = true;
      clip.score = score;
      clip.step = 0.02;
      clip.candidates = 12;
      clip.expand = 6;
      clip.refit = true;
      const auto c = vkq::test::correlated_calibration(rng, n, 2 * n);
      const auto hr = h_tilde(c);
      const auto w = widen(vkq::test::normal_weights(rng, m, n));
      const auto params = clip_search_params(w.data(), m, n, hr.data(), spec, clip);
      ClipOptions plain = clip;
      plain.expand = 0;
      plain.refit = false;
      const auto clipped = clip_search_params(w.data(), m, n, hr.data(), spec, plain);
      size_t better = 0;
      for (size_t i = 0; i < m; ++i)
        for (size_t k = 0; k < 2; ++k) {
          const double* t = &w[i * n + k * 32];
          const double* hb = &hr[k * 32 * n + k * 32];
          const double chosen = clip_candidate_loss(t, 32, hb, n, spec, params[i * 2 + k], score);
          double best = INFINITY;
          for (int cand = 0; cand < clip.candidates + clip.expand; ++cand) {
            const double factor = cand < clip.candidates ? 1 - cand * clip.step : 1 + (cand - clip.candidates + 1) * clip.step;
            const GroupParams p = params_for(t, 32, spec, factor);
            best = std::min(best, clip_candidate_loss(t, 32, hb, n, spec, p, score));
            GroupParams r;
            if (refit_group_params(t, 32, hb, n, spec, p, score, r))
              best = std::min(best, clip_candidate_loss(t, 32, hb, n, spec, r, score));
          }
          EXPECT_EQ(chosen, best);
          const double only_clip = clip_candidate_loss(t, 32, hb, n, spec, clipped[i * 2 + k], score);
          EXPECT_LE(chosen, only_clip);  // a superset of the clip search's candidates
          better += chosen < only_clip;
        }
      EXPECT_GT(better, 0u) << "widening and refits never helped: the case tests nothing";
    }
}

// Requantizing Q4_1 to Q5_1: a block on the Q4_1 lattice (d·q + m, fp16 d and m) is exact in Q5_1
// at scale d/2 with the min kept, which ranges scaled about 0 cannot reach (they move the min) and
// the min-fixed family does (31/30 of min-max, then its refit).
TEST(ScaleSearch, AboutMinFamilyHoldsAQ41BlockExactlyInQ51) {
  const uint64_t seed = vkq::test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  const size_t n = 64, m = 6;
  const auto c = vkq::test::correlated_calibration(rng, n, 2 * n);
  const auto hr = h_tilde(c);
  std::uniform_int_distribution<int> code(0, 15);
  std::uniform_real_distribution<double> dist(0.005, 0.05), mins(-0.6, -0.05);
  std::vector<double> w(m * n);
  for (size_t i = 0; i < m; ++i)
    for (size_t k = 0; k < n / 32; ++k) {
      const double d = double(vkq::round_to_half(float(dist(rng)))), mn = double(vkq::round_to_half(float(mins(rng))));
      for (size_t j = 0; j < 32; ++j) w[i * n + k * 32 + j] = d * code(rng) + mn;
      w[i * n + k * 32] = mn, w[i * n + k * 32 + 1] = mn + 15 * d;  // the block spans the Q4_1 range
    }
  GridSpec spec;
  spec.format = GridFormat::Q5_1, spec.group = 32;
  ClipOptions clip;
  clip.enabled = true, clip.step = 0.015, clip.candidates = 21, clip.expand = 10, clip.refit = true;
  const auto about_0 = clip_search_params(w.data(), m, n, hr.data(), spec, clip);
  clip.about_min = true;
  const auto about_min = clip_search_params(w.data(), m, n, hr.data(), spec, clip);
  size_t inexact_about_0 = 0;
  for (size_t i = 0; i < m; ++i)
    for (size_t k = 0; k < n / 32; ++k) {
      const double* t = &w[i * n + k * 32];
      const double* hb = &hr[k * 32 * n + k * 32];
      EXPECT_EQ(clip_candidate_loss(t, 32, hb, n, spec, about_min[i * 2 + k], clip.score), 0.0) << "group " << i << "," << k;
      const double l0 = clip_candidate_loss(t, 32, hb, n, spec, about_0[i * 2 + k], clip.score);
      EXPECT_LE(clip_candidate_loss(t, 32, hb, n, spec, about_min[i * 2 + k], clip.score), l0);
      inexact_about_0 += l0 > 0;
    }
  EXPECT_GT(inexact_about_0, 0u) << "ranges about 0 were already exact: the case tests nothing";
}

TEST(ScaleSearch, RefitIsTheWeightedLeastSquaresScaleOfTheCodes) {
  // INT keeps float64 params, so the refit must zero the gradient of (t − s·u)ᵀ H (t − s·u) in s:
  // uᵀ H (t − s·u) = 0; Q4_1 fits (d, m) and stores them in fp16, so its fixed-code loss must be
  // no worse than the candidate's and within fp16 rounding of the exact optimum.
  const uint64_t seed = vkq::test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  const size_t n = 32;
  const auto c = vkq::test::correlated_calibration(rng, n, 3 * n);
  const auto hr = h_tilde(c);
  const auto w = widen(vkq::test::normal_weights(rng, 4, n));
  const auto fixed_code_loss = [&](const double* t, const std::vector<double>& u, double s, double m) {
    double l = 0;
    for (size_t i = 0; i < n; ++i)
      for (size_t j = 0; j < n; ++j) l += (t[i] - s * u[i] - m) * hr[i * n + j] * (t[j] - s * u[j] - m);
    return l;
  };
  for (size_t row = 0; row < 4; ++row) {
    const double* t = &w[row * n];
    GridSpec spec;
    spec.format = GridFormat::INT;
    spec.bits = 3;
    spec.group = 0;
    const GroupParams p = params_for(t, n, spec, 0.9);
    GroupParams r;
    ASSERT_TRUE(refit_group_params(t, n, hr.data(), n, spec, p, ClipScore::full_block, r));
    EXPECT_EQ(r.zero, p.zero);
    std::vector<double> u(n);
    for (size_t j = 0; j < n; ++j) u[j] = quantize_value(t[j], p, spec) - p.zero;
    double grad = 0, scale = 0;
    for (size_t i = 0; i < n; ++i)
      for (size_t j = 0; j < n; ++j) {
        grad += u[i] * hr[i * n + j] * (t[j] - r.scale * u[j]);
        scale += std::fabs(u[i] * hr[i * n + j] * t[j]);
      }
    EXPECT_NEAR(grad, 0.0, 1e-12 * scale);

    spec.format = GridFormat::Q4_1;
    spec.group = 32;
    const GroupParams q = params_for(t, n, spec);
    ASSERT_TRUE(refit_group_params(t, n, hr.data(), n, spec, q, ClipScore::full_block, r));
    for (size_t j = 0; j < n; ++j) u[j] = quantize_value(t[j], q, spec);
    const double before = fixed_code_loss(t, u, q.scale, q.min), after = fixed_code_loss(t, u, r.scale, r.min);
    EXPECT_LE(after, before);
    // The exact (d, m) optimum, by its normal equations, is a lower bound within fp16 steps of r.
    double a = 0, b = 0, cc = 0, e = 0, f = 0;
    for (size_t i = 0; i < n; ++i)
      for (size_t j = 0; j < n; ++j) {
        a += u[i] * hr[i * n + j] * u[j], b += u[i] * hr[i * n + j], cc += hr[i * n + j];
        e += u[i] * hr[i * n + j] * t[j], f += hr[i * n + j] * t[j];
      }
    const double det = a * cc - b * b, d_opt = (e * cc - f * b) / det, m_opt = (a * f - b * e) / det;
    EXPECT_NEAR(r.scale, d_opt, std::ldexp(std::fabs(d_opt), -10));
    EXPECT_NEAR(r.min, m_opt, std::ldexp(std::fabs(m_opt), -10) + 1e-7);
    EXPECT_GE(after, fixed_code_loss(t, u, d_opt, m_opt));
  }
}

TEST(ScaleSearch, RefusesDegenerateRefits) {
  // An all-zero group has no codes to fit (uᵀHu = 0); a constant Q4_1 group has a singular (d, m) system.
  std::vector<double> h(32 * 32, 0.0);
  for (size_t j = 0; j < 32; ++j) h[j * 32 + j] = 1.0;
  const std::vector<double> zeros(32, 0.0), constant(32, 0.25);
  GridSpec q40{GridFormat::Q4_0, 4, 32, false}, q41{GridFormat::Q4_1, 4, 32, false};
  GroupParams r;
  r.scale = 123;
  EXPECT_FALSE(refit_group_params(zeros.data(), 32, h.data(), 32, q40, params_for(zeros.data(), 32, q40),
                                  ClipScore::full_block, r));
  EXPECT_FALSE(refit_group_params(constant.data(), 32, h.data(), 32, q41, params_for(constant.data(), 32, q41),
                                  ClipScore::diagonal, r));
  EXPECT_EQ(r.scale, 123);  // untouched
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
  clip.candidates = 5;
  clip.expand = -1;
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
