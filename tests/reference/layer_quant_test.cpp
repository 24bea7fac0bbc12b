// The layer-level solve (ALGORITHMS.md §2–§5) through its one API: properties of the methods
// against each other and against an independent, unblocked GPTQ written here in its OBS form.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>
#include <random>
#include <vector>

#include "reference/grid.hpp"
#include "reference/layer_quant.hpp"
#include "reference/objective.hpp"
#include "reference_fixtures.hpp"
#include "support/test_seed.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::ref {
namespace {

// Gauss–Jordan inverse with partial pivoting (independent of the Cholesky code under test).
std::vector<double> gauss_jordan_inverse(std::vector<double> a, size_t n) {
  std::vector<double> inv(n * n, 0.0);
  for (size_t i = 0; i < n; ++i) inv[i * n + i] = 1;
  for (size_t c = 0; c < n; ++c) {
    size_t piv = c;
    for (size_t r = c + 1; r < n; ++r)
      if (std::fabs(a[r * n + c]) > std::fabs(a[piv * n + c])) piv = r;
    for (size_t k = 0; k < n; ++k) {
      std::swap(a[c * n + k], a[piv * n + k]);
      std::swap(inv[c * n + k], inv[piv * n + k]);
    }
    const double d = a[c * n + c];
    for (size_t k = 0; k < n; ++k) {
      a[c * n + k] /= d;
      inv[c * n + k] /= d;
    }
    for (size_t r = 0; r < n; ++r) {
      if (r == c) continue;
      const double f = a[r * n + c];
      if (f == 0) continue;
      for (size_t k = 0; k < n; ++k) {
        a[r * n + k] -= f * a[c * n + k];
        inv[r * n + k] -= f * inv[c * n + k];
      }
    }
  }
  return inv;
}

struct Straightforward {
  std::vector<int32_t> codes;
  std::vector<double> q, row_loss;
};

// GPTQ as first written (OBQ/OBS form, α = 0, λ = 0, unblocked): quantize column j, spread its
// error over the unquantized columns with H⁻¹[j, :]/H⁻¹_jj, then eliminate j from H⁻¹.
Straightforward straightforward_gptq(const std::vector<float>& wf, size_t m, size_t n, std::vector<double> h,
                                     const GridSpec& spec, double damp, bool act_order, bool static_groups) {
  std::vector<double> w(wf.begin(), wf.end());
  for (size_t j = 0; j < n; ++j)
    if (h[j * n + j] == 0) {
      h[j * n + j] = 1;
      for (size_t i = 0; i < m; ++i) w[i * n + j] = 0;
    }
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t(0));
  if (act_order)
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return h[a * n + a] > h[b * n + b]; });
  double mu = 0;
  for (size_t j = 0; j < n; ++j) mu += h[j * n + j];
  mu /= double(n);
  for (size_t j = 0; j < n; ++j) h[j * n + j] += damp * mu;
  const std::vector<double> hinv0 = gauss_jordan_inverse(h, n);

  const size_t g = group_size(spec, n), ng = groups_per_row(spec, n);
  Straightforward out;
  out.codes.resize(m * n);
  out.q.resize(m * n);
  out.row_loss.resize(m);
  for (size_t i = 0; i < m; ++i) {
    std::vector<double> wr(w.begin() + std::ptrdiff_t(i * n), w.begin() + std::ptrdiff_t((i + 1) * n));
    std::vector<GroupParams> params(ng);
    if (static_groups)
      for (size_t k = 0; k < ng; ++k) params[k] = params_for(&wr[k * g], std::min(g, n - k * g), spec);
    std::vector<double> hi = hinv0;
    double loss = 0;
    for (size_t p = 0; p < n; ++p) {
      const size_t j = order[p];
      if (!static_groups && p % g == 0) {
        std::vector<double> vals;
        for (size_t k = p; k < std::min(n, p + g); ++k) vals.push_back(wr[order[k]]);
        params[p / g] = params_for(vals.data(), vals.size(), spec);
      }
      const GroupParams& gp = params[static_groups ? j / g : p / g];
      const int32_t c = quantize_value(wr[j], gp, spec);
      const double q = dequantize_code(c, gp, spec), hjj = hi[j * n + j];
      loss += (wr[j] - q) * (wr[j] - q) / hjj;
      const double f = (wr[j] - q) / hjj;
      for (size_t k = p + 1; k < n; ++k) wr[order[k]] -= f * hi[j * n + order[k]];
      const std::vector<double> col_j = [&] {
        std::vector<double> v(n);
        for (size_t a = 0; a < n; ++a) v[a] = hi[a * n + j];
        return v;
      }();
      for (size_t a = 0; a < n; ++a)  // H⁻¹ of the remaining columns: eliminate j
        for (size_t b = 0; b < n; ++b) hi[a * n + b] -= col_j[a] * col_j[b] / hjj;
      out.codes[i * n + j] = c;
      out.q[i * n + j] = q;
    }
    out.row_loss[i] = loss;
  }
  return out;
}

struct Layer {
  size_t m, n;
  std::vector<float> w;
  vkq::test::Calibration c;
};

Layer make_layer(std::mt19937_64& rng, size_t m, size_t n, size_t outliers = 3) {
  Layer l{m, n, vkq::test::normal_weights(rng, m, n), vkq::test::correlated_calibration(rng, n, 2 * n + 16, outliers)};
  return l;
}

GridSpec int_grid(int bits, size_t group, bool sym = false) {
  GridSpec g;
  g.bits = bits;
  g.group = group;
  g.symmetric = sym;
  return g;
}

GridSpec gguf(GridFormat f) {
  GridSpec g;
  g.format = f;
  g.group = 32;
  return g;
}

TEST(LayerQuant, GptqBeatsRtnOnCorrelatedInputsWithOutliers) {
  const uint64_t seed = vkq::test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  for (const GridSpec& spec : {int_grid(4, 32), int_grid(3, 0, true), gguf(GridFormat::Q4_0), gguf(GridFormat::Q4_1)}) {
    const Layer l = make_layer(rng, 16, 64);
    LayerQuantOptions o;
    o.grid = spec;
    o.method = Method::rtn;
    const auto rtn = quantize_layer(l.w, l.m, l.n, l.c.h, o);
    o.method = Method::gptq;
    const auto gptq = quantize_layer(l.w, l.m, l.n, l.c.h, o);
    EXPECT_LT(gptq.loss, rtn.loss) << "format " << int(spec.format);
  }
}

TEST(LayerQuant, HugeLambdaGivesTheRtnCodes) {
  const uint64_t seed = vkq::test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  for (Saliency s : {Saliency::unit, Saliency::act})
    for (bool static_groups : {true, false}) {
      const Layer l = make_layer(rng, 8, 33);
      LayerQuantOptions o;
      o.grid = int_grid(4, 8);
      o.method = Method::rtn;
      const auto rtn = quantize_layer(l.w, l.m, l.n, l.c.h, o);
      o.method = Method::gptq;
      o.lambda = 1e9;
      o.saliency = s;
      o.static_groups = static_groups;
      o.act_order = static_groups;  // dynamic groups in natural order cover the same columns as RTN's
      const auto g = quantize_layer(l.w, l.m, l.n, l.c.h, o, {}, l.c.mean_abs);
      EXPECT_EQ(g.codes, rtn.codes) << "saliency " << int(s) << " static " << static_groups;
    }
}

TEST(LayerQuant, PlainGptqEqualsStraightforwardGptq) {
  const uint64_t seed = vkq::test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  struct Case {
    GridSpec grid;
    size_t n;
    bool static_groups;
  };
  const Case cases[] = {{int_grid(4, 16), 33, true}, {int_grid(4, 16), 33, false}, {int_grid(3, 0), 7, false},
                        {int_grid(4, 32, true), 129, true}, {gguf(GridFormat::Q4_0), 64, true},
                        {gguf(GridFormat::Q5_1), 64, true}, {int_grid(8, 0), 1, true}};
  for (const Case& c : cases)
    for (bool act : {false, true}) {
      SCOPED_TRACE("n=" + std::to_string(c.n) + " format=" + std::to_string(int(c.grid.format)) + " static=" +
                   std::to_string(c.static_groups) + " act=" + std::to_string(act));
      Layer l = make_layer(rng, 5, c.n);
      if (c.n > 2) {  // one dead column too
        for (size_t k = 0; k < c.n; ++k) l.c.h[2 * c.n + k] = l.c.h[k * c.n + 2] = 0;
      }
      const auto ref = straightforward_gptq(l.w, l.m, l.n, l.c.h, c.grid, 0.01, act, c.static_groups);
      LayerQuantOptions o;
      o.grid = c.grid;
      o.act_order = act;
      o.static_groups = c.static_groups;
      for (size_t b : {size_t(128), c.n}) {
        o.block = b;
        const auto r = quantize_layer(l.w, l.m, l.n, l.c.h, o);
        EXPECT_EQ(r.codes, ref.codes);
        EXPECT_LE(vkq::test::max_abs_diff(r.dequantized, ref.q), 1e-9 * vkq::test::max_abs(ref.q));
        for (size_t i = 0; i < l.m; ++i) EXPECT_NEAR(r.row_loss[i], ref.row_loss[i], 1e-8 * ref.row_loss[i] + 1e-300);
      }
    }
}

TEST(LayerQuant, BlockSizeDoesNotChangeTheResult) {
  const uint64_t seed = vkq::test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  for (size_t n : {33u, 129u}) {
    const Layer l = make_layer(rng, 6, n);
    LayerQuantOptions o;
    o.grid = int_grid(4, 16);
    o.lambda = 0.1;
    o.saliency = Saliency::hdiag;
    o.clip.enabled = true;
    o.block = n;
    const auto ref = quantize_layer(l.w, l.m, l.n, l.c.h, o);
    for (size_t b : {4u, 7u, 128u}) {
      o.block = b;
      const auto r = quantize_layer(l.w, l.m, l.n, l.c.h, o);
      EXPECT_EQ(r.codes, ref.codes) << "n=" << n << " B=" << b;
      EXPECT_LE(vkq::test::max_abs_diff(r.dequantized, ref.dequantized), 1e-10 * vkq::test::max_abs(ref.dequantized));
      EXPECT_NEAR(r.loss, ref.loss, 1e-10 * ref.loss);
    }
  }
}

TEST(LayerQuant, BeamWidthOneIsGptqAndWidthFourNeverLoses) {
  const uint64_t seed = vkq::test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  for (const GridSpec& spec : {int_grid(3, 16), gguf(GridFormat::Q4_1)}) {
    const Layer l = make_layer(rng, 8, 64);
    LayerQuantOptions o;
    o.grid = spec;
    o.block = 16;
    const auto g = quantize_layer(l.w, l.m, l.n, l.c.h, o);
    o.method = Method::beam;
    o.beam_width = 1;
    const auto k1 = quantize_layer(l.w, l.m, l.n, l.c.h, o);
    o.beam_width = 4;
    const auto k4 = quantize_layer(l.w, l.m, l.n, l.c.h, o);
    EXPECT_EQ(k1.codes, g.codes);
    EXPECT_EQ(k1.dequantized, g.dequantized);
    EXPECT_EQ(k1.row_loss, g.row_loss);
    for (size_t i = 0; i < l.m; ++i) EXPECT_LE(k4.row_loss[i], k1.row_loss[i]) << "row " << i;
  }
}

TEST(LayerQuant, DeadColumnsStayZeroAndFinite) {
  const uint64_t seed = vkq::test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  const size_t n = 40, m = 6;
  Layer l = make_layer(rng, m, n);
  const std::vector<size_t> dead = {0, 17, 39};
  for (size_t j : dead)
    for (size_t k = 0; k < n; ++k) {
      l.c.h[j * n + k] = l.c.h[k * n + j] = 0;
      l.c.d[k * n + j] = 0;  // a dead input channel has no X_q, so D[:, j] = 0 too
    }
  for (Method method : {Method::rtn, Method::gptq, Method::beam}) {
    LayerQuantOptions o;
    o.method = method;
    o.grid = int_grid(4, 8);
    o.alpha = 0.25;
    o.lambda = 0.05;
    o.saliency = Saliency::act;
    const auto r = quantize_layer(l.w, m, n, l.c.h, o, l.c.d, l.c.mean_abs);
    EXPECT_EQ(r.dead_columns, (std::vector<uint32_t>{0, 17, 39}));
    for (size_t i = 0; i < m; ++i)
      for (size_t j : dead) EXPECT_EQ(r.target[i * n + j], 0.0);
    for (double v : r.dequantized) ASSERT_TRUE(std::isfinite(v));
    for (double v : r.row_loss) ASSERT_TRUE(std::isfinite(v));
    EXPECT_TRUE(std::isfinite(r.loss));
  }
}

TEST(LayerQuant, AlphaShiftsTheTargetAndSampledModeUsesCoefficientOne) {
  const uint64_t seed = vkq::test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  const size_t n = 33, m = 4;
  const Layer l = make_layer(rng, m, n);
  LayerQuantOptions o;
  o.grid = int_grid(4, 0);
  o.alpha = 0.25;
  const auto r = quantize_layer(l.w, m, n, l.c.h, o, l.c.d);
  // (T − W) H̃ = α W D with H̃ = H + δμI.
  double mu = 0;
  for (size_t j = 0; j < n; ++j) mu += l.c.h[j * n + j] / double(n);
  for (size_t i = 0; i < m; ++i)
    for (size_t j = 0; j < n; ++j) {
      double lhs = 0, rhs = 0, size = 0;  // size: Σ|terms|, the scale of the rounding error
      for (size_t k = 0; k < n; ++k) {
        const double hk = l.c.h[k * n + j] + (k == j ? 0.01 * mu : 0.0);
        lhs += (r.target[i * n + k] - double(l.w[i * n + k])) * hk;
        rhs += 0.25 * double(l.w[i * n + k]) * l.c.d[k * n + j];
        size += std::fabs((r.target[i * n + k] - double(l.w[i * n + k])) * hk);
      }
      EXPECT_NEAR(lhs, rhs, 1e-10 * size + 1e-300);
    }
  o.alpha = 0;
  EXPECT_EQ(quantize_layer(l.w, m, n, l.c.h, o, l.c.d).target, std::vector<double>(l.w.begin(), l.w.end()));
  o.alpha_mode = AlphaMode::sampled;
  const auto s = quantize_layer(l.w, m, n, l.c.h, o, l.c.d);
  o.alpha_mode = AlphaMode::fixed;
  o.alpha = 1;
  EXPECT_EQ(s.target, quantize_layer(l.w, m, n, l.c.h, o, l.c.d).target);
}

TEST(LayerQuant, ClosedFormAlphaIsZeroAtWAndCoefAtTheTarget) {
  // α* = ⟨Q − W, W D⟩ / ⟨(T − W)/coef, W D⟩: Q = W gives 0, Q = T gives coef; a solved layer lies in
  // [0, 1], and a run without D records −1.
  const uint64_t seed = vkq::test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  const size_t n = 32, m = 5;
  const Layer l = make_layer(rng, m, n);
  LayerQuantOptions o;
  o.grid = int_grid(4, 0);
  o.alpha = 0.3;
  const auto r = quantize_layer(l.w, m, n, l.c.h, o, l.c.d);
  const std::vector<double> w(l.w.begin(), l.w.end()), d(l.c.d.begin(), l.c.d.end());
  EXPECT_NEAR(closed_form_alpha(w, w, r.target, d, m, n, 0.3), 0.0, 1e-12);
  EXPECT_NEAR(closed_form_alpha(w, r.target, r.target, d, m, n, 0.3), 0.3, 1e-12);
  EXPECT_GE(r.alpha_star, 0.0);
  EXPECT_LE(r.alpha_star, 1.0);
  EXPECT_EQ(r.alpha_star, closed_form_alpha(w, r.dequantized, r.target, d, m, n, 0.3));
  o.alpha = 0;
  EXPECT_EQ(quantize_layer(l.w, m, n, l.c.h, o).alpha_star, -1.0);
}

TEST(LayerQuant, LossIsTheTraceWithTheUnregularisedGram) {
  const uint64_t seed = vkq::test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  const Layer l = make_layer(rng, 7, 33);
  LayerQuantOptions o;
  o.grid = int_grid(3, 8);
  o.lambda = 0.5;
  for (Method method : {Method::rtn, Method::gptq, Method::beam}) {
    o.method = method;
    const auto r = quantize_layer(l.w, l.m, l.n, l.c.h, o);
    double tr = 0;
    for (size_t i = 0; i < l.m; ++i)
      for (size_t a = 0; a < l.n; ++a)
        for (size_t b = 0; b < l.n; ++b)
          tr += (r.target[i * l.n + a] - r.dequantized[i * l.n + a]) * l.c.h[a * l.n + b] *
                (r.target[i * l.n + b] - r.dequantized[i * l.n + b]);
    EXPECT_NEAR(r.loss, tr / double(l.m), 1e-12 * tr);
    EXPECT_EQ(r.codes.size(), l.m * l.n);
    EXPECT_EQ(r.params.size(), l.m * r.groups_per_row);
    EXPECT_EQ(r.g_idx.size(), l.n);
  }
}

TEST(LayerQuant, Fp32StatisticsOverloadMatchesFp64) {
  const uint64_t seed = vkq::test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  const Layer l = make_layer(rng, 4, 32);
  std::vector<float> hf(l.c.h.begin(), l.c.h.end()), df(l.c.d.begin(), l.c.d.end()),
      af(l.c.mean_abs.begin(), l.c.mean_abs.end());
  LayerQuantOptions o;
  o.grid = gguf(GridFormat::Q8_0);
  o.alpha = 0.1;
  o.lambda = 0.2;
  o.saliency = Saliency::act2;
  const auto a = quantize_layer(l.w, 4, 32, hf, o, df, af);
  const auto b = quantize_layer(l.w, 4, 32, std::vector<double>(hf.begin(), hf.end()), o,
                                std::vector<double>(df.begin(), df.end()), std::vector<double>(af.begin(), af.end()));
  EXPECT_EQ(a.codes, b.codes);
  EXPECT_EQ(a.loss, b.loss);
}

TEST(LayerQuant, IndefiniteGramIsDampedWithRetriesReported) {
  const uint64_t seed = vkq::test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  const size_t n = 16, m = 3;
  Layer l = make_layer(rng, m, n);
  // Channels a, b get H_aa = H_bb = max diag = M and H_ab = 1.5 M: that 2 × 2 principal minor is
  // negative (indefinite H, positive diagonal) until δμ ≥ 0.5 M ≥ 0.5 μ, so δ = 0.01 and 0.1 fail.
  double big = 0;
  for (size_t j = 0; j < n; ++j) big = std::max(big, l.c.h[j * n + j]);
  const size_t a = 3, b = 11;
  l.c.h[a * n + a] = l.c.h[b * n + b] = big;
  l.c.h[a * n + b] = l.c.h[b * n + a] = 1.5 * big;
  LayerQuantOptions o;
  o.grid = int_grid(4, 0);
  const auto r = quantize_layer(l.w, m, n, l.c.h, o);
  EXPECT_GE(r.damping_retries.size(), 2u);
  EXPECT_GT(r.damp_used, o.damp);
  for (double v : r.dequantized) ASSERT_TRUE(std::isfinite(v));
}

TEST(LayerQuant, BadInputsGiveClearErrors) {
  const uint64_t seed = vkq::test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  const Layer l = make_layer(rng, 4, 32);
  LayerQuantOptions o;
  o.grid = int_grid(4, 8);
  const auto expect_error = [&](const std::function<void()>& f, const std::string& needle) {
    try {
      f();
      ADD_FAILURE() << "expected vkq::Error mentioning \"" << needle << "\"";
    } catch (const vkq::Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_error([&] { quantize_layer(l.w, 4, 31, l.c.h, o); }, "W");
  expect_error([&] { quantize_layer(l.w, 4, 32, std::vector<double>(10), o); }, "H");
  auto wn = l.w;
  wn[37] = NAN;
  expect_error([&] { quantize_layer(wn, 4, 32, l.c.h, o); }, "row 1, column 5");
  auto hneg = l.c.h;
  hneg[3 * 32 + 3] = -1;
  expect_error([&] { quantize_layer(l.w, 4, 32, hneg, o); }, "H[3][3]");
  auto ob = o;
  ob.method = Method::beam;
  ob.static_groups = false;
  expect_error([&] { quantize_layer(l.w, 4, 32, l.c.h, ob); }, "static_groups");
  auto og = o;
  og.grid = gguf(GridFormat::Q4_0);
  og.static_groups = false;
  expect_error([&] { quantize_layer(l.w, 4, 32, l.c.h, og); }, "g_idx");
  og.static_groups = true;
  expect_error([&] { quantize_layer(l.w, 2, 48, std::vector<double>(48 * 48, 1.0), og); }, "32-column");
  auto os = o;
  os.lambda = 1;
  os.saliency = Saliency::act;
  expect_error([&] { quantize_layer(l.w, 4, 32, l.c.h, os); }, "mean|x|");
  auto oa = o;
  oa.alpha = 1.5;
  expect_error([&] { quantize_layer(l.w, 4, 32, l.c.h, oa); }, "α");
  expect_error([&] { quantize_layer(l.w, 4, 32, l.c.h, o, std::vector<double>(5)); }, "D");
  oa.alpha = 0.25;
  expect_error([&] { quantize_layer(l.w, 4, 32, l.c.h, oa); }, "cross-Gram D");
  oa.alpha_mode = AlphaMode::sampled;
  expect_error([&] { quantize_layer(l.w, 4, 32, l.c.h, oa); }, "sampled α");
}

TEST(LayerQuant, SingleColumnAndSingleRow) {
  const uint64_t seed = vkq::test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  for (Method method : {Method::rtn, Method::gptq, Method::beam}) {
    LayerQuantOptions o;
    o.method = method;
    o.grid = int_grid(2, 0);
    const Layer a = make_layer(rng, 5, 1, 0);
    const auto r1 = quantize_layer(a.w, 5, 1, a.c.h, o);
    for (size_t i = 0; i < 5; ++i) EXPECT_NEAR(r1.dequantized[i], a.w[i], 1e-6);  // one value per group: exact
    const Layer b = make_layer(rng, 1, 7);
    const auto r2 = quantize_layer(b.w, 1, 7, b.c.h, o);
    EXPECT_EQ(r2.row_loss.size(), 1u);
    EXPECT_TRUE(std::isfinite(r2.loss));
  }
}

}  // namespace
}  // namespace vkq::ref
