// grid.glsl (through grid_encode.comp) vs the float64 reference grids of reference/grid.hpp on
// every format: params, codes and dequantized values, min-max and shrunk ranges, given params,
// the scale-0 guard and Q4_0's first-of-largest-magnitude tie, poisoned outputs.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "kernels/grid_params.hpp"
#include "reference/grid.hpp"
#include "support/test_seed.hpp"
#include "support/vk_test_env.hpp"

namespace vkq {
namespace {

using test::vk_context;

struct Case {
  ref::GridSpec spec;
  uint32_t m, n;
};

kernels::GridDesc desc_of(const ref::GridSpec& s, uint32_t n) {
  kernels::GridDesc d;
  d.format = kernels::GridFormatId(uint32_t(s.format));
  d.bits = uint32_t(s.bits);
  d.symmetric = s.symmetric;
  d.group = uint32_t(ref::group_size(s, n));
  return d;
}

std::string name_of(const ref::GridSpec& s) {
  const char* names[] = {"INT", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1"};
  std::string r = names[int(s.format)];
  if (s.format == ref::GridFormat::INT)
    r += std::to_string(s.bits) + (s.symmetric ? "s" : "a") + "g" + std::to_string(s.group);
  return r;
}

std::vector<Case> all_cases() {
  std::vector<Case> cs;
  for (int bits : {2, 3, 4, 8})
    for (bool sym : {false, true})
      for (size_t group : {size_t(0), size_t(32), size_t(128)}) {
        ref::GridSpec s;
        s.bits = bits, s.symmetric = sym, s.group = group;
        cs.push_back({s, 33, 129});
      }
  for (auto f : {ref::GridFormat::Q8_0, ref::GridFormat::Q4_0, ref::GridFormat::Q4_1, ref::GridFormat::Q5_0,
                 ref::GridFormat::Q5_1}) {
    ref::GridSpec s;
    s.format = f, s.group = 32;
    cs.push_back({s, 7, 160});
    cs.push_back({s, 1, 32});
  }
  return cs;
}

// Distance of the code argument x to the nearest rounding boundary (k + 0.5).
double tie_distance(double w, const ref::GroupParams& p) {
  if (p.scale == 0) return 1;
  const double x = (w - p.min) / p.scale;
  return std::fabs(x - std::floor(x) - 0.5);
}

struct Outputs {
  std::vector<float> params;  // 4 per group
  std::vector<int32_t> codes;
  std::vector<float> deq;
};

Outputs run_device(const Case& c, const std::vector<float>& w, float shrink, const std::vector<float>* given) {
  auto& ctx = vk_context();
  const auto d = desc_of(c.spec, c.n);
  const uint32_t ng = d.groups_per_row(c.n);
  auto wb = vk::upload_new(ctx, w, "W");
  auto pb = vk::upload_new(ctx, given ? *given : test::poisoned(size_t(c.m) * ng * 4), "params");
  auto cb = vk::upload_new(ctx, std::vector<int32_t>(size_t(c.m) * c.n, INT32_MIN), "codes");
  auto db = vk::upload_new(ctx, test::poisoned(size_t(c.m) * c.n), "deq");
  kernels::GridEncode enc(ctx, d);
  vk::Stream s(ctx);
  if (given)
    enc.encode_with_params(s, wb, c.m, c.n, pb, cb, db);
  else
    enc.encode(s, wb, c.m, c.n, pb, cb, db, shrink);
  s.submit_and_wait();
  return {vk::download_all<float>(ctx, pb, size_t(c.m) * ng * 4), vk::download_all<int32_t>(ctx, cb, size_t(c.m) * c.n),
          vk::download_all<float>(ctx, db, size_t(c.m) * c.n)};
}

// Reference params/codes of W (as doubles) with the range shrunk by `shrink`.
ref::EncodedMatrix run_reference(const Case& c, const std::vector<double>& w, double shrink) {
  const size_t g = ref::group_size(c.spec, c.n), ng = ref::groups_per_row(c.spec, c.n);
  std::vector<ref::GroupParams> params(size_t(c.m) * ng);
  for (size_t i = 0; i < c.m; ++i)
    for (size_t k = 0; k < ng; ++k)
      params[i * ng + k] = ref::params_for(&w[i * c.n + k * g], std::min(g, c.n - k * g), c.spec, shrink);
  return ref::encode_with_params(w.data(), c.m, c.n, c.spec, params);
}

struct Tally {
  size_t total = 0, differ = 0;  // differ: codes that differ away from an exact tie
  size_t exact_ties = 0;         // differ where x is within fp32 resolution of k + 0.5
};

// Codes equal, or one step apart at a near-tie (fp32 vs float64 arithmetic); dequantized values
// of equal codes agree to fp32 precision.
void compare(const Case& c, const std::vector<double>& w, const Outputs& got, const ref::EncodedMatrix& want,
             bool params_given, Tally& t) {
  const size_t g = ref::group_size(c.spec, c.n), ng = want.groups_per_row;
  size_t param_mismatch = 0;
  for (size_t i = 0; i < c.m * ng; ++i) {
    const auto& p = want.params[i];
    const float* q = &got.params[i * 4];
    if (ref::is_gguf(c.spec)) {
      // fp16-rounded values: equal unless the fp32 computation sits on an fp16 rounding tie.
      if (double(q[0]) != p.scale || double(q[2]) != p.min || double(q[1]) != p.zero) ++param_mismatch;
    } else {
      // INT scale in fp32: a few ulp of (hi − lo)/maxq; the zero point equal unless at a tie.
      EXPECT_NEAR(q[0], p.scale, 4e-7 * std::fabs(p.scale)) << "group " << i;
      if (double(q[1]) != p.zero) ++param_mismatch;
      EXPECT_EQ(q[2], 0.0f);
    }
  }
  EXPECT_LE(param_mismatch, params_given ? 0u : (c.m * ng) / 100 + 1) << "group params differ beyond rare ties";
  for (size_t i = 0; i < c.m; ++i)
    for (size_t j = 0; j < c.n; ++j) {
      const size_t e = i * c.n + j;
      const auto& p = want.params[i * ng + j / g];
      const float* q = &got.params[(i * ng + j / g) * 4];
      // A GGUF group whose stored params sat on an fp16 tie (counted above) has another grid.
      if (ref::is_gguf(c.spec) && (double(q[0]) != p.scale || double(q[2]) != p.min)) continue;
      ++t.total;
      if (got.codes[e] == want.codes[e]) {
        // fp32 product of a code and fp32 params: within a few fp32 ulp of the float64 value.
        const double wd = ref::dequantize_code(want.codes[e], p, c.spec);
        EXPECT_NEAR(got.deq[e], wd, 1e-6 * (std::fabs(p.scale) * 256 + std::fabs(p.min))) << "element " << e;
        continue;
      }
      // Symmetric INT puts a group's negative extreme exactly on a tie (x = −maxq/2): fp32 and
      // float64 break it independently, so such differences are counted apart.
      if (tie_distance(w[e], p) < 1e-6)
        ++t.exact_ties;
      else
        ++t.differ;
      EXPECT_EQ(std::abs(got.codes[e] - want.codes[e]), 1) << "element " << e;
      EXPECT_LT(tie_distance(w[e], p), 1e-4) << "code differs away from a rounding tie, element " << e;
    }
}

TEST(GridEncode, MatchesReferenceOnEveryFormat) {
  const uint64_t seed = test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  Tally t;
  for (const auto& c : all_cases()) {
    SCOPED_TRACE(name_of(c.spec) + " m=" + std::to_string(c.m) + " n=" + std::to_string(c.n));
    auto w = test::random_floats(rng, size_t(c.m) * c.n, -1.5f, 1.0f);
    if (c.m > 1)  // an all-zero row exercises the scale-0 guard (INT) and d = 0 (GGUF)
      for (uint32_t j = 0; j < c.n; ++j) w[c.n + j] = 0;
    const std::vector<double> wd(w.begin(), w.end());
    for (double shrink : {1.0, 0.85}) {
      SCOPED_TRACE("shrink=" + std::to_string(shrink));
      const auto want = run_reference(c, wd, shrink);
      compare(c, wd, run_device(c, w, float(shrink), nullptr), want, false, t);
    }
  }
  // fp32 vs float64: codes differ only at near-ties, which random data hits rarely.
  EXPECT_LE(double(t.differ), 1e-3 * double(t.total)) << t.differ << " of " << t.total << " codes differ";
  std::printf("grid codes: %zu of %zu differ at near-ties, %zu at exact ties\n", t.differ, t.total, t.exact_ties);
}

TEST(GridEncode, GivenParamsMatchReferenceCodes) {
  const uint64_t seed = test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  Tally t;
  for (const auto& c : all_cases()) {
    SCOPED_TRACE(name_of(c.spec));
    auto w = test::random_floats(rng, size_t(c.m) * c.n, -1.0f, 1.0f);
    const std::vector<double> wd(w.begin(), w.end());
    auto want = ref::encode_matrix(wd.data(), c.m, c.n, c.spec);
    // The reference params narrowed to fp32 (GGUF values are fp16, so exact), and the reference
    // codes recomputed against exactly those narrowed params.
    std::vector<float> given(want.params.size() * 4);
    for (size_t i = 0; i < want.params.size(); ++i) {
      auto& p = want.params[i];
      p.scale = float(p.scale), p.zero = float(p.zero), p.min = float(p.min);
      given[i * 4] = float(p.scale), given[i * 4 + 1] = float(p.zero), given[i * 4 + 2] = float(p.min), given[i * 4 + 3] = 0;
    }
    want = ref::encode_with_params(wd.data(), c.m, c.n, c.spec, want.params);
    compare(c, wd, run_device(c, w, 1.0f, &given), want, true, t);
  }
  EXPECT_LE(double(t.differ), 1e-3 * double(t.total)) << t.differ << " of " << t.total << " codes differ";
}

TEST(GridEncode, Q4_0KeepsTheFirstValueOfLargestMagnitude) {
  auto& ctx = vk_context();
  ref::GridSpec spec;
  spec.format = ref::GridFormat::Q4_0, spec.group = 32;
  std::vector<float> w(32, 0.25f);
  w[3] = -0.75f, w[9] = 0.75f;  // equal magnitude: v = −0.75, d = 0.09375 > 0
  for (int flip = 0; flip < 2; ++flip) {
    if (flip) std::swap(w[3], w[9]);
    const std::vector<double> wd(w.begin(), w.end());
    const auto want = ref::encode_matrix(wd.data(), 1, 32, spec);
    const auto got = run_device({spec, 1, 32}, w, 1.0f, nullptr);
    EXPECT_EQ(double(got.params[0]), want.params[0].scale);
    for (size_t j = 0; j < 32; ++j) EXPECT_EQ(got.codes[j], want.codes[j]) << "column " << j;
  }
  (void)ctx;
}

TEST(GridEncode, HalfRoundingIsTiesToEven) {
  // Q8_0's d = amax/127 rounded to fp16: amax chosen so d lands exactly between two fp16 values.
  ref::GridSpec spec;
  spec.format = ref::GridFormat::Q8_0, spec.group = 32;
  const float d_tie = 1.0f + 1.5f / 1024.0f;  // between 1 + 1/1024 and 1 + 2/1024: even is 1 + 2/1024
  std::vector<float> w(32, 1.0f);
  w[5] = d_tie * 127.0f;  // exact in fp32 (needs 18 bits)
  const auto got = run_device({spec, 1, 32}, w, 1.0f, nullptr);
  EXPECT_EQ(got.params[0], 1.0f + 2.0f / 1024.0f);
}

TEST(GridEncode, RejectsBadGrids) {
  auto& ctx = vk_context();
  kernels::GridDesc d;
  d.format = kernels::GridFormatId::Q4_0, d.group = 32;
  kernels::GridEncode enc(ctx, d);
  auto w = vk::upload_new(ctx, std::vector<float>(40, 1.0f), "W");
  auto p = vk::upload_new(ctx, std::vector<float>(16, 0.0f), "params");
  vk::Stream s(ctx);
  EXPECT_THROW(enc.params(s, w, 1, 40, p), Error);  // 40 is not a multiple of 32
  kernels::GridDesc bad;
  bad.bits = 9;
  kernels::GridEncode enc9(ctx, bad);
  EXPECT_THROW(enc9.params(s, w, 1, 32, p), Error);
}

}  // namespace
}  // namespace vkq
