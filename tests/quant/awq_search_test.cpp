// quant::awq_scale_search vs ref::awq_scale_search: several layers sharing an input, with and
// without a shifted target, INT and GGUF grids, awkward widths, a dead channel (the 1e-4·max floor).
// Losses are fp32 device sums of fp32 roundings: each within 1e-3 of the float64 reference, and the
// chosen a within 1e-3 of the reference optimum (a flipped near-tie code may reorder close candidates).
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "quant/awq_search.hpp"
#include "reference/scale_search.hpp"
#include "support/test_seed.hpp"
#include "support/vk_test_env.hpp"

namespace vkq {
namespace {

using test::vk_context;
using ref::GridFormat;
using ref::GridSpec;

struct Case {
  GridSpec spec;
  uint32_t n;
  std::vector<uint32_t> rows;
  bool with_target;
};

class AwqCases : public testing::TestWithParam<Case> {};

TEST_P(AwqCases, MatchesReference) {
  const Case c = GetParam();
  const uint32_t n = c.n;
  const uint64_t seed = test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  auto& ctx = vk_context();
  // Activations with per-channel magnitudes spread over e² (salient channels), one channel dead.
  std::uniform_real_distribution<double> spread(-1.0, 1.0);
  std::vector<double> mag(n);
  for (auto& v : mag) v = std::exp(spread(rng));
  if (n > 3) mag[2] = 0;
  const uint32_t tokens = n + 24;
  auto x = test::random_floats(rng, size_t(tokens) * n);
  std::vector<double> mean_abs(n, 0.0), h(size_t(n) * n, 0.0);
  for (uint32_t t = 0; t < tokens; ++t)
    for (uint32_t i = 0; i < n; ++i) {
      x[size_t(t) * n + i] = float(x[size_t(t) * n + i] * mag[i]);
      mean_abs[i] += std::abs(double(x[size_t(t) * n + i])) / tokens;
    }
  for (uint32_t t = 0; t < tokens; ++t)
    for (uint32_t i = 0; i < n; ++i)
      for (uint32_t j = 0; j < n; ++j) h[size_t(i) * n + j] += 2.0 / tokens * x[size_t(t) * n + i] * x[size_t(t) * n + j];
  double mu = 0;
  for (uint32_t i = 0; i < n; ++i) mu += h[size_t(i) * n + i] / n;
  for (uint32_t i = 0; i < n; ++i) h[size_t(i) * n + i] += 0.01 * mu + (h[size_t(i) * n + i] == 0 ? mu : 0);
  const std::vector<float> hf(h.begin(), h.end());
  const std::vector<double> hd(hf.begin(), hf.end());  // both sides see the fp32 H̃

  std::vector<std::vector<float>> w(c.rows.size()), t(c.rows.size());
  std::vector<std::vector<double>> wd(c.rows.size()), td(c.rows.size());
  std::vector<vk::Buffer> wb, tb;
  std::vector<ref::AwqLayer> ref_layers;
  for (size_t l = 0; l < c.rows.size(); ++l) {
    w[l] = test::random_floats(rng, size_t(c.rows[l]) * n);
    t[l] = w[l];
    if (c.with_target) {
      auto shift = test::random_floats(rng, t[l].size(), -0.05f, 0.05f);
      for (size_t e = 0; e < t[l].size(); ++e) t[l][e] += shift[e];
    }
    wd[l].assign(w[l].begin(), w[l].end());
    td[l].assign(t[l].begin(), t[l].end());
    wb.push_back(vk::upload_new(ctx, w[l], "W"));
    tb.push_back(vk::upload_new(ctx, t[l], "T"));
    ref_layers.push_back({wd[l].data(), c.with_target ? td[l].data() : nullptr, c.rows[l]});
  }
  std::vector<quant::AwqLayerBuffers> layers;
  for (size_t l = 0; l < c.rows.size(); ++l) layers.push_back({&wb[l], c.with_target ? &tb[l] : nullptr, c.rows[l]});
  auto hb = vk::upload_new(ctx, hf, "H");

  const auto want = ref::awq_scale_search(ref_layers, n, hd, mean_abs, c.spec);
  const auto got = quant::awq_scale_search(ctx, layers, n, hb, mean_abs, c.spec);
  ASSERT_EQ(got.losses.size(), want.losses.size());
  // fp32 W·s^a can land a group's fp16 scale (or Q4_0/Q5_0's first extreme) on the other side of a
  // rounding tie from float64, which moves that group's codes: at most one exponent of the grid may
  // differ by such a flip, and then by under 1 % (a wrong kernel moves every exponent, by far more).
  size_t flipped = 0;
  for (size_t k = 0; k < want.losses.size(); ++k) {
    EXPECT_EQ(got.exponents[k], want.exponents[k]);
    const double rel = std::fabs(got.losses[k] - want.losses[k]) / want.losses[k];
    flipped += rel > 1e-3;
    EXPECT_LT(rel, 1e-2) << "a = " << want.exponents[k];
  }
  EXPECT_LE(flipped, 1u) << "exponents whose loss differs beyond fp32 rounding";
  EXPECT_LE(want.losses[got.best], want.best_loss * (1 + 1e-3));
  EXPECT_EQ(got.best_exponent, got.exponents[got.best]);
  ASSERT_EQ(got.scales.size(), size_t(n));
  if (got.best == want.best) {
    for (uint32_t j = 0; j < n; ++j) EXPECT_EQ(got.scales[j], want.scales[j]);  // same host formula in double
  }
}

GridSpec int_grid(int bits, size_t group) { return {GridFormat::INT, bits, group, false}; }

INSTANTIATE_TEST_SUITE_P(Grids, AwqCases,
                         testing::Values(Case{int_grid(4, 32), 64, {7, 33, 5}, false},
                                         Case{int_grid(3, 128), 129, {9, 4}, true},
                                         Case{int_grid(4, 0), 7, {1}, false},
                                         Case{GridSpec{GridFormat::Q4_0, 4, 32, false}, 96, {6, 6}, true}));

TEST(Awq, ChannelScalesMatchReference) {
  const std::vector<double> stats = {0.5, 0.0, 2.0, 1e-9, 1.0};
  EXPECT_EQ(quant::awq_channel_scales(stats), ref::awq_channel_scales(stats));
  EXPECT_THROW(quant::awq_channel_scales({0.0, 0.0}), Error);
  EXPECT_THROW(quant::awq_channel_scales({1.0, -1.0}), Error);
  EXPECT_THROW(quant::awq_channel_scales({}), Error);
}

TEST(Awq, RejectsBadInputs) {
  auto& ctx = vk_context();
  vk::Buffer w(ctx, 8 * 32 * 4, vk::MemoryUse::Device, "W");
  vk::Buffer h(ctx, 32 * 32 * 4, vk::MemoryUse::Device, "H");
  const std::vector<double> stats(32, 1.0);
  const GridSpec spec = int_grid(4, 32);
  EXPECT_THROW(quant::awq_scale_search(ctx, {}, 32, h, stats, spec), Error);                       // no layers
  EXPECT_THROW(quant::awq_scale_search(ctx, {{&w, nullptr, 9}}, 32, h, stats, spec), Error);       // W too small
  EXPECT_THROW(quant::awq_scale_search(ctx, {{&w, nullptr, 8}}, 32, w, stats, spec), Error);       // H too small
  EXPECT_THROW(quant::awq_scale_search(ctx, {{&w, nullptr, 8}}, 32, h, {1.0}, spec), Error);       // stats
  EXPECT_THROW(quant::awq_scale_search(ctx, {{&w, nullptr, 8}}, 32, h, stats, spec, 0), Error);    // n_grid
}

}  // namespace
}  // namespace vkq
