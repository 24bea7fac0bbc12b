// ALGORITHMS.md §3 super-block search, float64 reference: stored values are what the format can hold,
// the effective params are their products, the importance-weighted search beats plain min-max
// quantization of the sub-block scales, weights steer it, and awkward blocks stay exact or are refused.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "common/float16.hpp"
#include "reference/grid.hpp"
#include "reference/layer_quant.hpp"
#include "reference/superblock.hpp"
#include "reference_fixtures.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::ref {
namespace {

const SuperBlock kFormats[] = {SuperBlock::Q2_K, SuperBlock::Q3_K,   SuperBlock::Q4_K,  SuperBlock::Q5_K,
                               SuperBlock::Q6_K, SuperBlock::IQ4_NL, SuperBlock::IQ4_XS};

bool nonlinear(SuperBlock f) { return f == SuperBlock::IQ4_NL || f == SuperBlock::IQ4_XS; }

bool offset_format(SuperBlock f) { return f == SuperBlock::Q2_K || f == SuperBlock::Q4_K || f == SuperBlock::Q5_K; }

// Σ c (t − ŵ)² of every row against the given effective params.
double weighted_error(const std::vector<double>& t, size_t m, size_t n, SuperBlock f, const std::vector<GroupParams>& p,
                      const std::vector<double>& c) {
  const GridSpec grid = superblock_grid(f);
  const EncodedMatrix e = encode_with_params(t.data(), m, n, grid, p);
  const std::vector<double> q = decode_matrix(e, grid);
  double err = 0;
  for (size_t k = 0; k < t.size(); ++k) err += c[k % n] * (t[k] - q[k]) * (t[k] - q[k]);
  return err;
}

// Plain min-max: each sub-block's own range, scales quantized against d = max/top, no search.
std::vector<GroupParams> plain_params(const std::vector<double>& t, size_t m, size_t n, SuperBlock f) {
  const size_t g = superblock_subblock_columns(f), ns = 256 / g;
  const bool off = offset_format(f);
  const int top = f == SuperBlock::Q2_K ? 15 : f == SuperBlock::Q6_K ? 127 : off ? 63 : 31;
  const double nmax = f == SuperBlock::Q3_K ? 4 : 32, levels = (1 << superblock_grid(f).bits) - 1;
  std::vector<GroupParams> out;
  for (size_t i = 0; i < m; ++i)
    for (size_t b = 0; b < n / 256; ++b) {
      std::vector<double> s(ns), o(ns);
      for (size_t k = 0; k < ns; ++k) {
        double lo = 0, hi = 0, amax = 0;
        for (size_t j = 0; j < g; ++j) {
          const double v = t[i * n + b * 256 + k * g + j];
          lo = std::min(lo, v), hi = std::max(hi, v), amax = std::max(amax, std::fabs(v));
        }
        s[k] = off ? (hi - lo) / levels : amax / nmax;
        o[k] = -lo;
      }
      const double d = round_to_half(float(*std::max_element(s.begin(), s.end()) / top));
      const double dm = round_to_half(float(*std::max_element(o.begin(), o.end()) / top));
      for (size_t k = 0; k < ns; ++k) {
        const double sc = d > 0 ? std::min<double>(top, std::round(s[k] / d)) : 0;
        const double mn = dm > 0 ? std::min<double>(top, std::round(o[k] / dm)) : 0;
        out.push_back(off ? GroupParams{d * sc, 0, -dm * mn} : GroupParams{-d * sc, nmax, 0});
      }
    }
  return out;
}

class SuperBlockSearchTest : public ::testing::TestWithParam<SuperBlock> {};

TEST_P(SuperBlockSearchTest, StoresWhatTheFormatHoldsAndBeatsMinMax) {
  const SuperBlock f = GetParam();
  const uint64_t seed = test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  const size_t m = 6, n = 512;
  std::vector<double> t(m * n), c(n);
  std::normal_distribution<double> nd(0.0, 0.05);
  for (auto& v : t) v = nd(rng);
  for (auto& v : c) v = std::exp(2 * nd(rng) / 0.05);  // importances over two orders of magnitude
  const SuperBlockSearch r = superblock_search(t.data(), m, n, f, c.data());
  const size_t nb = n / superblock_columns(f), ns = superblock_columns(f) / superblock_subblock_columns(f);
  ASSERT_EQ(r.blocks.size(), m * nb);
  ASSERT_EQ(r.params.size(), m * nb * ns);
  for (size_t b = 0; b < r.blocks.size(); ++b) {
    const SuperBlockParams& sb = r.blocks[b];
    EXPECT_EQ(sb.d, double(round_to_half(float(sb.d))));
    EXPECT_EQ(sb.dmin, double(round_to_half(float(sb.dmin))));
    for (size_t k = 0; k < ns; ++k) {
      const GroupParams p = subblock_params(sb, k, f);
      EXPECT_EQ(r.params[b * ns + k].scale, p.scale);
      EXPECT_EQ(r.params[b * ns + k].min, p.min);
      EXPECT_EQ(double(float(p.scale)), p.scale);  // exact in fp32, as ggml's decode computes it
    }
  }
  if (nonlinear(f)) return;  // plain min-max has no meaning on the non-linear grid
  const double searched = weighted_error(t, m, n, f, r.params, c);
  const double plain = weighted_error(t, m, n, f, plain_params(t, m, n, f), c);
  EXPECT_LT(searched, plain) << superblock_name(f);
}

TEST_P(SuperBlockSearchTest, ImportanceSteersTheError) {
  const SuperBlock f = GetParam();
  const uint64_t seed = test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  const size_t m = 16, n = 256;
  std::vector<double> t(m * n), heavy(n, 1.0), unit(n, 1.0);
  std::normal_distribution<double> nd(0.0, 1.0);
  for (auto& v : t) v = nd(rng);
  for (size_t j = 0; j < n; j += 5) heavy[j] = 100.0;  // every fifth column matters most
  const auto with = superblock_search(t.data(), m, n, f, heavy.data());
  const auto without = superblock_search(t.data(), m, n, f, unit.data());
  EXPECT_LT(weighted_error(t, m, n, f, with.params, heavy), weighted_error(t, m, n, f, without.params, heavy));
}

TEST_P(SuperBlockSearchTest, ZeroBlocksDecodeToZeroAndOutliersStayFinite) {
  const SuperBlock f = GetParam();
  const size_t n = 256;
  std::vector<double> t(2 * n, 0.0);
  for (size_t j = 0; j < n; ++j) t[n + j] = 0.001 * std::sin(double(j));
  t[n + 77] = 40.0;  // one outlier
  const auto r = superblock_search(t.data(), 2, n, f, nullptr);
  const GridSpec grid = superblock_grid(f);
  const auto q = decode_matrix(encode_with_params(t.data(), 2, n, grid, r.params), grid);
  for (size_t j = 0; j < n; ++j) EXPECT_EQ(q[j], 0.0) << "zero row, column " << j;
  for (size_t j = n; j < 2 * n; ++j) EXPECT_TRUE(std::isfinite(q[j]));
  EXPECT_NEAR(q[n + 77], 40.0, 40.0 * 0.35) << superblock_name(f);  // the outlier keeps its magnitude
}

TEST_P(SuperBlockSearchTest, BadInputIsRefused) {
  const SuperBlock f = GetParam();
  std::vector<double> t(256, 0.5);
  t[9] = std::nan("");
  EXPECT_THROW(superblock_search(t.data(), 1, 256, f, nullptr), Error);
  std::vector<double> u(80, 0.5);
  EXPECT_THROW(superblock_search(u.data(), 1, 80, f, nullptr), Error);  // not a whole super-block (or IQ4_NL block)
  std::vector<double> big(256, 1e9);
  EXPECT_THROW(superblock_search(big.data(), 1, 256, f, nullptr), Error);  // d beyond fp16
}

// The calibrated sweep rounds against the searched params: its H-loss is below rounding to nearest.
TEST_P(SuperBlockSearchTest, GptqOnTheSuperBlockGridBeatsRtn) {
  const SuperBlock f = GetParam();
  const uint64_t seed = test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  const size_t m = 8, n = 256;
  const test::Calibration cal = test::correlated_calibration(rng, n, 600);
  const std::vector<float> w = test::normal_weights(rng, m, n);
  LayerQuantOptions o;
  o.superblock = f;
  o.grid = superblock_grid(f);
  o.method = Method::rtn;
  const LayerQuantResult rtn = quantize_layer(w, m, n, cal.h, o);
  o.method = Method::gptq;
  const LayerQuantResult gptq = quantize_layer(w, m, n, cal.h, o);
  ASSERT_EQ(gptq.superblocks.size(), m * n / superblock_columns(f));
  EXPECT_LT(gptq.loss, rtn.loss) << superblock_name(f);
  o.clip.enabled = true;
  EXPECT_THROW(quantize_layer(w, m, n, cal.h, o), Error);
  o.clip.enabled = false;
  o.grid.group = 64;
  EXPECT_THROW(quantize_layer(w, m, n, cal.h, o), Error);
}

// Σ c (t − ŵ)² of fixed codes decoded with the given effective params.
double fixed_code_error(const std::vector<double>& t, const std::vector<int32_t>& codes, size_t n, SuperBlock f,
                        const std::vector<GroupParams>& p, const std::vector<double>& c, size_t row, size_t col0,
                        size_t cols) {
  const GridSpec grid = superblock_grid(f);
  const size_t g = superblock_subblock_columns(f), gpr = n / g;
  double err = 0;
  for (size_t j = col0; j < col0 + cols; ++j) {
    const double r = t[row * n + j] - dequantize_code(codes[row * n + j], p[row * gpr + j / g], grid);
    err += c[j] * r * r;
  }
  return err;
}

// Codes rounded against 0.8× the searched scales decode 25 % too large with those scales: the refit
// finds scales that fit them, stores them as the format does, and never fits a super-block worse.
TEST_P(SuperBlockSearchTest, RefitFitsTheSweptCodes) {
  const SuperBlock f = GetParam();
  const uint64_t seed = test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  const size_t m = 6, n = 512;
  std::vector<double> t(m * n), c(n);
  std::normal_distribution<double> nd(0.0, 0.05);
  for (auto& v : t) v = nd(rng);
  for (auto& v : c) v = std::exp(nd(rng) / 0.05);
  const SuperBlockSearch now = superblock_search(t.data(), m, n, f, c.data());
  std::vector<GroupParams> shrunk = now.params;
  for (auto& p : shrunk) p.scale *= 0.8;
  const GridSpec grid = superblock_grid(f);
  std::vector<int32_t> codes = encode_with_params(t.data(), m, n, grid, shrunk).codes;
  for (size_t k = 0; k < 64; ++k) codes[k] = code_range(grid).lo;  // and an awkward run at the bottom

  std::vector<int32_t> poisoned = codes;
  const SuperBlockSearch refit = superblock_refit(t.data(), codes.data(), m, n, f, c.data(), now.blocks);
  EXPECT_EQ(codes, poisoned);  // the codes are read, not changed
  const size_t sbc = superblock_columns(f), nb = n / sbc, ns = sbc / superblock_subblock_columns(f);
  ASSERT_EQ(refit.blocks.size(), m * nb);
  ASSERT_EQ(refit.params.size(), m * nb * ns);
  double before = 0, after = 0;
  for (size_t i = 0; i < m; ++i)
    for (size_t b = 0; b < nb; ++b) {
      const SuperBlockParams& sb = refit.blocks[i * nb + b];
      EXPECT_EQ(sb.d, double(round_to_half(float(sb.d))));
      EXPECT_EQ(sb.dmin, double(round_to_half(float(sb.dmin))));
      for (size_t k = 0; k < ns; ++k) {
        const GroupParams p = subblock_params(sb, k, f);
        EXPECT_EQ(refit.params[(i * nb + b) * ns + k].scale, p.scale);
        EXPECT_EQ(refit.params[(i * nb + b) * ns + k].min, p.min);
      }
      const double e0 = fixed_code_error(t, codes, n, f, now.params, c, i, b * sbc, sbc);
      const double e1 = fixed_code_error(t, codes, n, f, refit.params, c, i, b * sbc, sbc);
      EXPECT_LE(e1, e0) << "row " << i << ", super-block " << b;
      before += e0, after += e1;
    }
  EXPECT_LT(after, 0.8 * before) << superblock_name(f);

  std::vector<SuperBlockParams> short_current(now.blocks.begin(), now.blocks.end() - 1);
  EXPECT_THROW(superblock_refit(t.data(), codes.data(), m, n, f, c.data(), short_current), Error);
  t[7] = std::nan("");
  EXPECT_THROW(superblock_refit(t.data(), codes.data(), m, n, f, c.data(), now.blocks), Error);
}

// Refit and sweep again: each row keeps the better of its two sweeps, so no row's loss rises, the
// kept rows are consistent (codes, params, super-blocks, Q), and on correlated inputs some row gains.
TEST_P(SuperBlockSearchTest, RefitSweepNeverRaisesARowsLoss) {
  const SuperBlock f = GetParam();
  const uint64_t seed = test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  const size_t m = 16, n = 512;
  const test::Calibration cal = test::correlated_calibration(rng, n, 1200);
  const std::vector<float> w = test::normal_weights(rng, m, n);
  for (const Method method : {Method::gptq, Method::beam}) {
    LayerQuantOptions o;
    o.superblock = f;
    o.grid = superblock_grid(f);
    o.method = method;
    o.beam_width = 2;
    o.superblock_refits = 0;
    const LayerQuantResult plain = quantize_layer(w, m, n, cal.h, o);
    EXPECT_EQ(plain.refit_rows, 0u);
    o.superblock_refits = 2;
    const LayerQuantResult refit = quantize_layer(w, m, n, cal.h, o);
    double sum_plain = 0, sum_refit = 0;
    for (size_t i = 0; i < m; ++i) {
      EXPECT_LE(refit.row_loss[i], plain.row_loss[i]) << "row " << i;
      sum_plain += plain.row_loss[i], sum_refit += refit.row_loss[i];
    }
    EXPECT_NEAR(refit.refit_row_loss_before, sum_plain / m, 1e-12 * sum_plain);
    EXPECT_GT(refit.refit_rows, 0u) << superblock_name(f);
    EXPECT_LT(sum_refit, sum_plain) << superblock_name(f);
    const GridSpec grid = superblock_grid(f);
    const size_t g = superblock_subblock_columns(f), gpr = n / g, sbc = superblock_columns(f);
    for (size_t i = 0; i < m; ++i)
      for (size_t j = 0; j < n; ++j) {
        const GroupParams& p = refit.params[i * gpr + j / g];
        const GroupParams sp = subblock_params(refit.superblocks[(i * n + j) / sbc], (j % sbc) / g, f);
        ASSERT_EQ(p.scale, sp.scale) << i << "," << j;
        ASSERT_EQ(p.min, sp.min) << i << "," << j;
        ASSERT_EQ(refit.dequantized[i * n + j], dequantize_code(refit.codes[i * n + j], p, grid)) << i << "," << j;
      }
  }
}

INSTANTIATE_TEST_SUITE_P(KFormats, SuperBlockSearchTest, ::testing::ValuesIn(kFormats),
                         [](const auto& info) { return std::string(superblock_name(info.param)); });

}  // namespace
}  // namespace vkq::ref
