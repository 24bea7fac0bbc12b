// Grids (ALGORITHMS.md §3): GGUF round trips, fp16 parameters, ggml's layouts and formulas,
// generic integer grid bounds, guards and the documented rounding conventions.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "common/float16.hpp"
#include "reference/grid.hpp"
#include "reference_fixtures.hpp"
#include "support/test_seed.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::ref {
namespace {

const GridFormat kGguf[] = {GridFormat::Q8_0, GridFormat::Q4_0, GridFormat::Q4_1, GridFormat::Q5_0, GridFormat::Q5_1};

GridSpec gguf(GridFormat f) {
  GridSpec s;
  s.format = f;
  s.group = 32;
  return s;
}

std::vector<double> random_matrix(std::mt19937_64& rng, size_t m, size_t n) {
  std::vector<double> w(m * n);
  std::normal_distribution<double> nd(0.0, 1.0);
  for (auto& v : w) v = double(float(nd(rng) * 0.1));  // fp32 weights, as models ship them
  return w;
}

// ggml's dequantize_row_* for one block (ggml-quants.c), applied to the codes.
std::vector<float> ggml_decode_block(GridFormat f, const int32_t* q, const GroupParams& p) {
  // ggml's dequantize_row_* formulas on the codes, with d and m as the block stores them (fp16).
  // The byte layout itself is checked against hand-decoded known bytes in tests/model/ggml_types_test.
  const float d = vkq::half_to_float(vkq::float_to_half(float(p.scale)));
  const float m = vkq::half_to_float(vkq::float_to_half(float(p.min)));
  std::vector<float> y(32);
  for (int j = 0; j < 32; ++j) {
    switch (f) {
      case GridFormat::Q4_0: y[j] = float(q[j] - 8) * d; break;
      case GridFormat::Q4_1: y[j] = float(q[j]) * d + m; break;
      case GridFormat::Q5_0: y[j] = float(q[j] - 16) * d; break;
      case GridFormat::Q5_1: y[j] = float(q[j]) * d + m; break;
      case GridFormat::Q8_0: y[j] = float(int8_t(q[j])) * d; break;
      default: break;
    }
  }
  return y;
}

// ggml's quantize_row_*_ref for one block (fp32 d, id = 1/d), returning codes and the fp32 step.
std::vector<int> ggml_quantize_block(GridFormat f, const float* x, float* step) {
  std::vector<int> q(32);
  float amax = 0, mx = 0, mn = x[0], hi = x[0];
  for (int j = 0; j < 32; ++j) {
    if (amax < std::fabs(x[j])) { amax = std::fabs(x[j]); mx = x[j]; }
    mn = std::min(mn, x[j]);
    hi = std::max(hi, x[j]);
  }
  float d = 0;
  switch (f) {
    case GridFormat::Q8_0: d = amax / 127; break;
    case GridFormat::Q4_0: d = mx / -8; break;
    case GridFormat::Q5_0: d = mx / -16; break;
    case GridFormat::Q4_1: d = (hi - mn) / 15; break;
    case GridFormat::Q5_1: d = (hi - mn) / 31; break;
    default: break;
  }
  const float id = d ? 1.0f / d : 0.0f;
  for (int j = 0; j < 32; ++j) {
    switch (f) {
      case GridFormat::Q8_0: q[j] = int(std::round(x[j] * id)); break;
      case GridFormat::Q4_0: q[j] = std::min(15, int(int8_t(x[j] * id + 8.5f))); break;
      case GridFormat::Q5_0: q[j] = std::min(31, int(int8_t(x[j] * id + 16.5f))); break;
      case GridFormat::Q4_1: q[j] = std::min(15, int(int8_t((x[j] - mn) * id + 0.5f))); break;
      case GridFormat::Q5_1: q[j] = int(uint8_t((x[j] - mn) * id + 0.5f)); break;
      default: break;
    }
  }
  *step = std::fabs(d);
  return q;
}

TEST(Grid, GgufEncodeDecodeEncodeIsStable) {
  const uint64_t seed = vkq::test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  for (GridFormat f : kGguf)
    for (size_t n : {32u, 96u, 160u}) {
      const GridSpec spec = gguf(f);
      const size_t m = 7;
      const auto w = random_matrix(rng, m, n);
      const EncodedMatrix e1 = encode_matrix(w.data(), m, n, spec);
      const auto d1 = decode_matrix(e1, spec);
      const EncodedMatrix e2 = encode_matrix(d1.data(), m, n, spec);
      EXPECT_EQ(e1.codes, e2.codes) << "format " << int(f) << " n=" << n;
      for (size_t k = 0; k < e1.params.size(); ++k) {
        EXPECT_EQ(e1.params[k].scale, e2.params[k].scale);
        EXPECT_EQ(e1.params[k].min, e2.params[k].min);
      }
      EXPECT_EQ(decode_matrix(e2, spec), d1);
    }
}

TEST(Grid, GgufParamsAreFp16AndCodesInRange) {
  const uint64_t seed = vkq::test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  for (GridFormat f : kGguf) {
    const GridSpec spec = gguf(f);
    const size_t m = 5, n = 128;
    const auto w = random_matrix(rng, m, n);
    const EncodedMatrix e = encode_matrix(w.data(), m, n, spec);
    ASSERT_EQ(e.groups_per_row, 4u);
    for (const GroupParams& p : e.params) {
      EXPECT_EQ(double(vkq::round_to_half(float(p.scale))), p.scale);
      EXPECT_EQ(double(vkq::round_to_half(float(p.min))), p.min);
    }
    const CodeRange r = code_range(spec);
    for (int32_t c : e.codes) {
      EXPECT_GE(c, r.lo);
      EXPECT_LE(c, r.hi);
    }
    // Interior codes are within half a step (+2 % for the fp16 rounding of d and m); an edge code
    // may be a full step off (Q4_0/Q5_0 have one level more below zero than above).
    const auto d = decode_matrix(e, spec);
    for (size_t i = 0; i < m; ++i)
      for (size_t j = 0; j < n; ++j) {
        const double step = std::fabs(e.params[i * 4 + j / 32].scale);
        const int32_t c = e.codes[i * n + j];
        const double bound = (c == r.lo || c == r.hi) ? 1.02 * step : 0.52 * step;
        EXPECT_LE(std::fabs(w[i * n + j] - d[i * n + j]), bound + 1e-12) << "format " << int(f);
      }
  }
}

TEST(Grid, GgufDecodeMatchesGgmlFormulas) {
  const uint64_t seed = vkq::test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  for (GridFormat f : kGguf) {
    const GridSpec spec = gguf(f);
    const size_t m = 3, n = 96;
    const auto w = random_matrix(rng, m, n);
    const EncodedMatrix e = encode_matrix(w.data(), m, n, spec);
    const auto ours = decode_matrix(e, spec);
    for (size_t i = 0; i < m; ++i)
      for (size_t b = 0; b < n / 32; ++b) {
        const auto y = ggml_decode_block(f, &e.codes[i * n + b * 32], e.params[i * 3 + b]);
        for (size_t j = 0; j < 32; ++j) EXPECT_EQ(float(ours[i * n + b * 32 + j]), y[j]) << "format " << int(f);
      }
  }
}

TEST(Grid, GgufCodesAgreeWithGgmlQuantizeUpToFp16Scale) {
  const uint64_t seed = vkq::test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  for (GridFormat f : kGguf) {
    const GridSpec spec = gguf(f);
    const size_t m = 16, n = 256;
    const auto w = random_matrix(rng, m, n);
    const EncodedMatrix e = encode_matrix(w.data(), m, n, spec);
    size_t same = 0;
    for (size_t i = 0; i < m; ++i)
      for (size_t b = 0; b < n / 32; ++b) {
        std::vector<float> x(32);
        for (size_t j = 0; j < 32; ++j) x[j] = float(w[i * n + b * 32 + j]);
        float step = 0;
        const auto q = ggml_quantize_block(f, x.data(), &step);
        for (size_t j = 0; j < 32; ++j) {
          const int ours = e.codes[i * n + b * 32 + j];
          EXPECT_LE(std::abs(ours - q[j]), 1) << "format " << int(f);  // only near-boundary values move
          same += ours == q[j];
        }
      }
    EXPECT_GE(double(same), 0.95 * double(m * n)) << "format " << int(f);
  }
}

TEST(Grid, RoundingConventionsAtTies) {
  // Q4_0: floor(x + 0.5) + 8, ggml's (int8)(x·id + 8.5): ties go up, also for negative x.
  GroupParams p4{0.5, 8, 0};
  EXPECT_EQ(quantize_value(2.5 * 0.5, p4, gguf(GridFormat::Q4_0)), 8 + 3);
  EXPECT_EQ(quantize_value(-2.5 * 0.5, p4, gguf(GridFormat::Q4_0)), 8 - 2);
  // Q8_0: roundf, ties away from zero.
  GroupParams p8{0.25, 0, 0};
  EXPECT_EQ(quantize_value(2.5 * 0.25, p8, gguf(GridFormat::Q8_0)), 3);
  EXPECT_EQ(quantize_value(-2.5 * 0.25, p8, gguf(GridFormat::Q8_0)), -3);
  // INT: floor(w/scale + 0.5) + zero, clamped.
  GridSpec s;
  s.bits = 4;
  GroupParams pi{0.5, 3, 0};
  EXPECT_EQ(quantize_value(-1.25, pi, s), 3 - 2);
  EXPECT_EQ(quantize_value(1.25, pi, s), 3 + 3);
  EXPECT_EQ(quantize_value(100.0, pi, s), 15);
  EXPECT_EQ(quantize_value(-100.0, pi, s), 0);
  // Q4_1: floor((w − m)/d + 0.5), clamped at 0 when fp16 m sits above the block minimum.
  GroupParams p1{0.5, 0, -1.0};
  EXPECT_EQ(quantize_value(-1.0 + 0.25, p1, gguf(GridFormat::Q4_1)), 1);
  EXPECT_EQ(quantize_value(-1.01, p1, gguf(GridFormat::Q4_1)), 0);
}

TEST(Grid, Q4_0UsesTheSignedExtremeAndGivesItCodeZero) {
  const double w[32] = {0.1, -0.7, 0.7, 0.2};  // tie in magnitude: the first (−0.7) wins, as ggml
  const GridSpec spec = gguf(GridFormat::Q4_0);
  const GroupParams p = params_for(w, 32, spec);
  EXPECT_EQ(p.scale, double(vkq::round_to_half(float(-0.7 / -8))));
  EXPECT_EQ(quantize_value(-0.7, p, spec), 0);
  EXPECT_EQ(quantize_value(0.7, p, spec), 15);  // +8 steps does not exist: clamped to 7 steps
}

TEST(Grid, IntGridBoundsOnAwkwardShapes) {
  const uint64_t seed = vkq::test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  for (int bits = 2; bits <= 8; ++bits)
    for (bool sym : {false, true})
      for (size_t n : {1u, 7u, 33u, 127u, 129u})
        for (size_t group : {0u, 4u, 32u, 128u}) {
          GridSpec spec;
          spec.bits = bits;
          spec.symmetric = sym;
          spec.group = group;
          const size_t m = 3, g = group_size(spec, n), ng = groups_per_row(spec, n);
          ASSERT_EQ(ng, (n + g - 1) / g);
          const auto w = random_matrix(rng, m, n);
          const EncodedMatrix e = encode_matrix(w.data(), m, n, spec);
          const auto d = decode_matrix(e, spec);
          const int maxq = (1 << bits) - 1;
          for (size_t i = 0; i < m; ++i)
            for (size_t j = 0; j < n; ++j) {
              const GroupParams& p = e.params[i * ng + j / g];
              const int32_t c = e.codes[i * n + j];
              ASSERT_GE(c, 0);
              ASSERT_LE(c, maxq);
              ASSERT_GE(p.zero, 0);
              ASSERT_LE(p.zero, maxq);
              ASSERT_GT(p.scale, 0);
              const double err = std::fabs(w[i * n + j] - d[i * n + j]);
              // Symmetric grids clip the top half step (q = maxq holds (maxq − zero)·scale).
              const bool clipped = sym && w[i * n + j] > (maxq - p.zero + 0.5) * p.scale;
              if (clipped)
                EXPECT_EQ(c, maxq);
              else
                EXPECT_LE(err, 0.5 * p.scale * (1 + 1e-9)) << "bits " << bits << " n " << n << " g " << group;
            }
        }
}

TEST(Grid, IntGridZeroAndConstantGroups) {
  for (bool sym : {false, true}) {
    GridSpec spec;
    spec.bits = 3;
    spec.symmetric = sym;
    spec.group = 4;
    const double zeros[4] = {0, 0, 0, 0};
    const GroupParams pz = params_for(zeros, 4, spec);  // scale-0 guard
    EXPECT_TRUE(std::isfinite(pz.scale));
    EXPECT_GT(pz.scale, 0);
    for (double v : zeros) EXPECT_EQ(dequantize_code(quantize_value(v, pz, spec), pz, spec), 0.0);
    for (double c : {0.37, -2.5}) {
      const double cst[4] = {c, c, c, c};
      const GroupParams pc = params_for(cst, 4, spec);
      ASSERT_TRUE(std::isfinite(pc.scale) && pc.scale > 0);
      const double back = dequantize_code(quantize_value(c, pc, spec), pc, spec);
      EXPECT_TRUE(std::isfinite(back));
      EXPECT_LE(std::fabs(back - c), 0.5 * pc.scale + 1e-15);
      if (!sym) {
        EXPECT_NEAR(back, c, 1e-15);  // asymmetric: the constant is an end of the range
      }
    }
  }
  // GGUF zero block: d = 0 encodes and decodes to zeros, finite.
  for (GridFormat f : kGguf) {
    std::vector<double> z(32, 0.0);
    const GridSpec spec = gguf(f);
    const EncodedMatrix e = encode_matrix(z.data(), 1, 32, spec);
    for (double v : decode_matrix(e, spec)) EXPECT_EQ(v, 0.0);
  }
}

TEST(Grid, ShrinkScalesTheRange) {
  const double w[4] = {-1.0, 0.25, 0.5, 2.0};
  GridSpec spec;
  spec.bits = 4;
  spec.group = 4;
  const GroupParams full = params_for(w, 4, spec), half = params_for(w, 4, spec, 0.5);
  EXPECT_DOUBLE_EQ(full.scale, 3.0 / 15);
  EXPECT_DOUBLE_EQ(half.scale, 1.5 / 15);
  const GridSpec q41 = gguf(GridFormat::Q4_1);
  std::vector<double> b(32, 0.5);
  b[3] = -1.0;
  b[9] = 2.0;
  const GroupParams p = params_for(b.data(), 32, q41, 0.9);
  EXPECT_EQ(p.min, double(vkq::round_to_half(-0.9f)));
  EXPECT_EQ(p.scale, double(vkq::round_to_half(float(2.7 / 15))));
}

TEST(Grid, ErrorsNameTheProblem) {
  GridSpec s;
  s.bits = 1;
  EXPECT_THROW(validate_grid(s, 8), vkq::Error);
  s.bits = 9;
  EXPECT_THROW(validate_grid(s, 8), vkq::Error);
  s.bits = 4;
  EXPECT_THROW(validate_grid(s, 0), vkq::Error);
  GridSpec g = gguf(GridFormat::Q4_0);
  EXPECT_THROW(validate_grid(g, 48), vkq::Error);
  g.group = 16;
  EXPECT_THROW(validate_grid(g, 64), vkq::Error);
  try {
    validate_grid(gguf(GridFormat::Q5_1), 33);
    FAIL() << "expected an error";
  } catch (const vkq::Error& e) {
    EXPECT_NE(std::string(e.what()).find("Q5_1"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("33"), std::string::npos);
  }
  const double bad[2] = {1.0, std::nan("")};
  EXPECT_THROW(params_for(bad, 2, GridSpec{}), vkq::Error);
  const double huge[32] = {1e9};
  EXPECT_THROW(params_for(huge, 32, gguf(GridFormat::Q8_0)), vkq::Error);  // d overflows fp16
}

}  // namespace
}  // namespace vkq::ref
