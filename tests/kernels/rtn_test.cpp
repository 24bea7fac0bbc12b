// rtn_quantize vs the float64 reference grids (ref::encode_matrix / encode_with_params): every
// format, awkward shapes and partial groups, min-max and given params, poisoned outputs. Codes
// must be identical except where w/scale lies within fp32 rounding of a rounding boundary (a tie).
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <tuple>

#include "kernels/rtn.hpp"
#include "reference/grid.hpp"
#include "reference/superblock.hpp"
#include "support/test_seed.hpp"
#include "support/vk_test_env.hpp"

namespace vkq {
namespace {

using test::vk_context;
using ref::GridFormat;
using ref::GridSpec;

struct RtnOut {
  std::vector<ref::GroupParams> params;
  std::vector<int32_t> codes;
  std::vector<float> q;
};

RtnOut run_rtn(const GridSpec& spec, const std::vector<float>& t, uint32_t m, uint32_t n,
               const std::vector<ref::GroupParams>* given) {
  auto& ctx = vk_context();
  const uint32_t groups = kernels::grid_groups_per_row(spec, n);
  auto tb = vk::upload_new(ctx, t, "T");
  auto pb = given ? vk::upload_new(ctx, kernels::params_to_device(*given, spec.format), "params")
                  : vk::upload_new(ctx, test::poisoned(size_t(m) * groups * 4), "params");
  auto cb = vk::upload_new(ctx, std::vector<int32_t>(size_t(m) * n, INT32_MIN), "codes");
  auto qb = vk::upload_new(ctx, test::poisoned(size_t(m) * n), "Q");
  kernels::Rtn rtn(ctx, spec);
  vk::Stream s(ctx);
  kernels::RtnShape sh;
  sh.m = m, sh.n = n;
  if (given) rtn.run_with_params(s, tb, pb, cb, qb, sh);
  else rtn.run(s, tb, pb, cb, qb, sh);
  s.submit_and_wait();
  return {kernels::params_from_device(vk::download_all<float>(ctx, pb, size_t(m) * groups * 4)),
          vk::download_all<int32_t>(ctx, cb, size_t(m) * n), vk::download_all<float>(ctx, qb, size_t(m) * n)};
}

// True when the asymmetric INT zero point floor(−lo/scale + 0.5) of group (row, k) sits at a tie.
bool zero_is_near_tie(const std::vector<float>& t, uint32_t n, size_t row, size_t k, size_t g, const GridSpec& spec,
                      const ref::GroupParams& p) {
  if (spec.format != GridFormat::INT || spec.symmetric) return false;
  double lo = 0, hi = 0;
  for (size_t j = k * g; j < std::min<size_t>((k + 1) * g, n); ++j) {
    lo = std::min(lo, double(t[row * n + j]));
    hi = std::max(hi, double(t[row * n + j]));
  }
  if (lo == 0 && hi == 0) lo = -1;
  const double x = -lo / p.scale + 0.5;
  return std::abs(x - std::round(x)) < 1e-5 * (1 + x);
}

void expect_matches(const GridSpec& spec, const std::vector<float>& t, uint32_t m, uint32_t n, const RtnOut& got,
                    const ref::EncodedMatrix& want) {
  const size_t g = ref::group_size(spec, n), ng = ref::groups_per_row(spec, n);
  ASSERT_EQ(got.params.size(), want.params.size());
  std::vector<bool> zero_tie(want.params.size(), false);
  for (size_t k = 0; k < want.params.size(); ++k) {
    const auto& a = got.params[k];
    const auto& b = want.params[k];
    if (a.zero != b.zero && zero_is_near_tie(t, n, k / ng, k % ng, g, spec, b)) {
      // zero = floor(−lo/scale + 0.5) at a tie (e.g. the all-zero guard range [−1, 1] gives exactly
      // maxq/2 + 0.5): fp32 may land one below; codes shift with it, so compare Q only.
      EXPECT_EQ(std::abs(a.zero - b.zero), 1) << "group " << k;
      zero_tie[k] = true;
      continue;
    }
    // fp32 scale of a float64 quotient: 1 ulp-ish; GGUF params are fp16 values, equal unless the fp32
    // quotient straddles an fp16 rounding boundary (then one fp16 step, 2^-10 relative).
    const double tol = ref::is_gguf(spec) ? 1e-3 : 1e-6;
    EXPECT_NEAR(a.scale, b.scale, tol * std::abs(b.scale)) << "group " << k;
    EXPECT_NEAR(a.min, b.min, tol * std::abs(b.min) + 1e-30) << "group " << k;
    EXPECT_EQ(a.zero, b.zero) << "group " << k;
  }
  size_t ties = 0;
  for (uint32_t i = 0; i < m; ++i)
    for (uint32_t j = 0; j < n; ++j) {
      const size_t e = size_t(i) * n + j;
      const auto& p = want.params[i * ng + j / g];
      const double wq = ref::dequantize_code(want.codes[e], p, spec);
      if (got.codes[e] != want.codes[e] && !zero_tie[i * ng + j / g]) {
        ASSERT_TRUE(ref::code_near_tie(t[e], p, spec)) << "code differs away from a tie at (" << i << ", " << j << "): got "
                                             << got.codes[e] << " want " << want.codes[e];
        ASSERT_LE(std::abs(got.codes[e] - want.codes[e]), 1);
        ++ties;
        continue;
      }
      // fp32 scale·(q − zero) + min: a few fp32 roundings of values of the size of the group's range.
      ASSERT_NEAR(got.q[e], wq, 1e-6 * (std::abs(p.scale) * 256 + std::abs(p.min)) + 1e-30)
          << "at (" << i << ", " << j << ")";
    }
  EXPECT_LE(ties, size_t(m) * n / 100 + 1);  // ties are rare on continuous random data
}

struct Case {
  GridSpec spec;
  uint32_t m, n;
};

GridSpec int_grid(int bits, size_t group, bool sym) { return {GridFormat::INT, bits, group, sym}; }
GridSpec gguf(GridFormat f) { return {f, 4, 32, false}; }

class RtnCases : public testing::TestWithParam<Case> {};

TEST_P(RtnCases, MinMaxMatchesReference) {
  const Case c = GetParam();
  const uint64_t seed = test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  auto t = test::random_floats(rng, size_t(c.m) * c.n, -1.f, 1.f);
  if (c.m > 1) std::fill(t.begin(), t.begin() + c.n, 0.0f);  // an all-zero row: the scale-0 guard
  const std::vector<double> td(t.begin(), t.end());
  const auto want = ref::encode_matrix(td.data(), c.m, c.n, c.spec);
  const auto got = run_rtn(c.spec, t, c.m, c.n, nullptr);
  expect_matches(c.spec, t, c.m, c.n, got, want);
}

TEST_P(RtnCases, GivenParamsMatchReference) {
  const Case c = GetParam();
  const uint64_t seed = test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  auto t = test::random_floats(rng, size_t(c.m) * c.n, -1.f, 1.f);
  const std::vector<double> td(t.begin(), t.end());
  // Params from a shrunk range (as clip search gives), narrowed to fp32 so both sides use the same.
  const size_t g = ref::group_size(c.spec, c.n), ng = ref::groups_per_row(c.spec, c.n);
  std::vector<ref::GroupParams> params(size_t(c.m) * ng);
  for (size_t i = 0; i < c.m; ++i)
    for (size_t k = 0; k < ng; ++k) {
      auto p = ref::params_for(td.data() + i * c.n + k * g, std::min(g, c.n - k * g), c.spec, 0.85);
      params[i * ng + k] = {double(float(p.scale)), double(float(p.zero)), double(float(p.min))};
    }
  const auto want = ref::encode_with_params(td.data(), c.m, c.n, c.spec, params);
  const auto got = run_rtn(c.spec, t, c.m, c.n, &params);
  expect_matches(c.spec, t, c.m, c.n, got, want);
}

// The non-linear IQ4 grid with the params of the IQ4_XS / IQ4_NL search, on odd row counts, outputs poisoned:
// codes equal the reference's (the nearest of 16 values; a tie takes the larger) but where w/scale sits within
// fp32 rounding of a midpoint between two values, and the dequantized values are scale × value exactly.
TEST(Rtn, Iq4GridWithSearchedParamsMatchesReference) {
  const uint64_t seed = test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  for (const auto& [sb, m, n] : {std::tuple{ref::SuperBlock::IQ4_XS, 7u, 512u}, std::tuple{ref::SuperBlock::IQ4_NL, 5u, 96u}}) {
    auto t = test::random_floats(rng, size_t(m) * n, -1.f, 1.f);
    std::fill(t.begin(), t.begin() + n, 0.0f);  // an all-zero row
    const std::vector<double> td(t.begin(), t.end());
    const GridSpec spec = ref::superblock_grid(sb);
    auto params = ref::superblock_search(td.data(), m, n, sb, nullptr).params;
    const auto want = ref::encode_with_params(td.data(), m, n, spec, params);
    const auto got = run_rtn(spec, t, m, n, &params);
    size_t differ = 0;
    for (size_t k = 0; k < want.codes.size(); ++k) {
      const auto& p = params[(k / n) * (n / 32) + (k % n) / 32];
      differ += got.codes[k] != want.codes[k];
      if (got.codes[k] == want.codes[k]) {
        ASSERT_EQ(got.q[k], float(p.scale) * float(ref::kIq4Values[want.codes[k]])) << k;
      } else {  // only at a midpoint: both values equally near
        const double x = td[k] / p.scale;
        EXPECT_NEAR(std::abs(x - ref::kIq4Values[got.codes[k]]), std::abs(x - ref::kIq4Values[want.codes[k]]), 1e-4) << k;
      }
    }
    EXPECT_LE(differ, want.codes.size() / 1000) << ref::superblock_name(sb);
    for (uint32_t j = 0; j < n; ++j) EXPECT_EQ(got.q[j], 0.0f);  // the zero row
  }
}

INSTANTIATE_TEST_SUITE_P(
    Grids, RtnCases,
    testing::Values(Case{int_grid(4, 128, false), 7, 129}, Case{int_grid(4, 128, false), 1, 1},
                    Case{int_grid(3, 32, true), 33, 127}, Case{int_grid(8, 0, false), 5, 33},
                    Case{int_grid(2, 7, false), 9, 50}, Case{int_grid(4, 64, true), 129, 64},
                    Case{gguf(GridFormat::Q8_0), 7, 96}, Case{gguf(GridFormat::Q4_0), 33, 64},
                    Case{gguf(GridFormat::Q4_1), 7, 32}, Case{gguf(GridFormat::Q5_0), 5, 160},
                    Case{gguf(GridFormat::Q5_1), 9, 64}));

TEST(Rtn, SubMatrixOfTEqualsPackedT) {
  // T read at an element offset with a row stride (a slice of a larger matrix) gives the same output.
  const uint64_t seed = test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  auto& ctx = vk_context();
  const uint32_t m = 9, n = 70, ldt = n + 3, off = 5;
  const GridSpec spec = int_grid(4, 32, false);
  auto big = test::random_floats(rng, off + size_t(m) * ldt);
  std::vector<float> packed(size_t(m) * n);
  for (uint32_t i = 0; i < m; ++i)
    for (uint32_t j = 0; j < n; ++j) packed[size_t(i) * n + j] = big[off + size_t(i) * ldt + j];
  const auto want = run_rtn(spec, packed, m, n, nullptr);
  const uint32_t groups = kernels::grid_groups_per_row(spec, n);
  auto tb = vk::upload_new(ctx, big, "T slice");
  auto pb = vk::upload_new(ctx, test::poisoned(size_t(m) * groups * 4), "params");
  auto cb = vk::upload_new(ctx, std::vector<int32_t>(size_t(m) * n, INT32_MIN), "codes");
  auto qb = vk::upload_new(ctx, test::poisoned(size_t(m) * n), "Q");
  kernels::Rtn rtn(ctx, spec);
  vk::Stream s(ctx);
  kernels::RtnShape sh;
  sh.m = m, sh.n = n, sh.ldt = ldt, sh.t_offset = off;
  rtn.run(s, tb, pb, cb, qb, sh);
  s.submit_and_wait();
  EXPECT_EQ(vk::download_all<int32_t>(ctx, cb, size_t(m) * n), want.codes);
  EXPECT_EQ(vk::download_all<float>(ctx, qb, size_t(m) * n), want.q);
}

TEST(Rtn, RejectsBadShapes) {
  auto& ctx = vk_context();
  kernels::Rtn q4(ctx, gguf(GridFormat::Q4_0));
  vk::Buffer b(ctx, 4096 * 4, vk::MemoryUse::Device, "buf");
  vk::Stream s(ctx);
  kernels::RtnShape sh;
  sh.m = 2, sh.n = 33;  // not a multiple of the 32-column block
  EXPECT_THROW(q4.run(s, b, b, b, b, sh), Error);
  kernels::Rtn int4(ctx, int_grid(4, 128, false));
  sh.m = 64, sh.n = 64;  // T of 64 x 64 floats does not fit a 100-float buffer
  vk::Buffer small(ctx, 100 * 4, vk::MemoryUse::Device, "small");
  EXPECT_THROW(int4.run(s, small, b, b, b, sh), Error);
  EXPECT_THROW(kernels::Rtn(ctx, int_grid(9, 128, false)), Error);
}

}  // namespace
}  // namespace vkq
