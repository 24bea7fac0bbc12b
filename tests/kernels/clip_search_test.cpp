// clip_search vs ref::clip_search_params: full-block and diagonal scores, INT and GGUF grids,
// awkward shapes with partial groups, poisoned params; the scale search (candidates above min-max,
// least-squares refits). The device scores in fp32, so where two candidates' losses are within fp32
// noise it may keep the other one: each chosen candidate's float64 loss must be within 1e-4 (relative)
// of the reference optimum and never above min-max (refits: see MatchesReference).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <random>

#include "kernels/clip_search.hpp"
#include "kernels/rtn.hpp"
#include "reference/grid.hpp"
#include "reference/scale_search.hpp"
#include "support/test_seed.hpp"
#include "support/vk_test_env.hpp"

namespace vkq {
namespace {

using test::vk_context;
using ref::GridFormat;
using ref::GridSpec;

// H̃ = (2/N) XᵀX + 0.01 μ I from correlated random activations (an SPD regularised Gram), fp32 values.
std::vector<float> random_hreg(std::mt19937_64& rng, uint32_t n) {
  const uint32_t tokens = 2 * n + 16;
  auto x = test::random_floats(rng, size_t(tokens) * n, -1.f, 1.f);
  for (uint32_t t = 0; t < tokens; ++t)
    for (uint32_t j = 1; j < n; ++j) x[size_t(t) * n + j] += 0.5f * x[size_t(t) * n + j - 1];  // correlations
  std::vector<double> h(size_t(n) * n, 0.0);
  for (uint32_t t = 0; t < tokens; ++t)
    for (uint32_t i = 0; i < n; ++i)
      for (uint32_t j = 0; j < n; ++j) h[size_t(i) * n + j] += 2.0 / tokens * x[size_t(t) * n + i] * x[size_t(t) * n + j];
  double mu = 0;
  for (uint32_t i = 0; i < n; ++i) mu += h[size_t(i) * n + i] / n;
  for (uint32_t i = 0; i < n; ++i) h[size_t(i) * n + i] += 0.01 * mu;
  return {h.begin(), h.end()};
}

struct Case {
  GridSpec spec;
  ref::ClipScore score;
  uint32_t m, n;
  bool scale_search = false;  // expand + refit + about_min
};

class ClipCases : public testing::TestWithParam<Case> {};

TEST_P(ClipCases, MatchesReference) {
  const Case c = GetParam();
  const uint64_t seed = test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  auto& ctx = vk_context();
  auto t = test::random_floats(rng, size_t(c.m) * c.n, -1.f, 1.f);
  // Heavy-tailed rows (a few large weights) are where clipping pays.
  for (size_t e = 0; e < t.size(); e += 11) t[e] *= 4.0f;
  const auto h = random_hreg(rng, c.n);
  const std::vector<double> td(t.begin(), t.end()), hd(h.begin(), h.end());
  ref::ClipOptions clip;
  clip.enabled = true;
  clip.score = c.score;
  clip.step = 0.02;
  clip.candidates = 20;
  if (c.scale_search) {
    clip.expand = 8;
    clip.refit = true;
    clip.about_min = true;
  }
  const auto want = ref::clip_search_params(td.data(), c.m, c.n, hd.data(), c.spec, clip);

  const uint32_t groups = kernels::grid_groups_per_row(c.spec, c.n);
  auto tb = vk::upload_new(ctx, t, "T");
  auto hb = vk::upload_new(ctx, h, "H");
  auto scratch = vk::upload_new(ctx, test::poisoned(size_t(c.m) * c.n), "scratch");
  auto pb = vk::upload_new(ctx, test::poisoned(size_t(c.m) * groups * 4), "params");
  kernels::ClipSearch search(ctx, c.spec, clip);
  vk::Stream s(ctx);
  kernels::ClipSearchShape sh;
  sh.m = c.m, sh.n = c.n;
  search.run(s, tb, hb, scratch, pb, sh);
  s.submit_and_wait();
  const auto got = kernels::params_from_device(vk::download_all<float>(ctx, pb, size_t(c.m) * groups * 4));

  const size_t g = ref::group_size(c.spec, c.n);
  size_t same = 0, gained = 0, excused = 0;
  double sum_got = 0, sum_want = 0, sum_minmax = 0;
  for (uint32_t i = 0; i < c.m; ++i)
    for (uint32_t k = 0; k < groups; ++k) {
      const size_t j0 = k * g, len = std::min(g, size_t(c.n) - j0);
      const double* tg = td.data() + size_t(i) * c.n + j0;
      const double* hg = hd.data() + j0 * c.n + j0;
      const auto& pg = got[size_t(i) * groups + k];
      const auto& pw = want[size_t(i) * groups + k];
      ASSERT_TRUE(std::isfinite(pg.scale)) << "group (" << i << ", " << k << ") not written";
      const double l_got = ref::clip_candidate_loss(tg, len, hg, c.n, c.spec, pg, c.score);
      const double l_want = ref::clip_candidate_loss(tg, len, hg, c.n, c.spec, pw, c.score);
      const ref::GroupParams minmax = ref::params_for(tg, len, c.spec);
      const double l_minmax = ref::clip_candidate_loss(tg, len, hg, c.n, c.spec, minmax, c.score);
      sum_got += l_got, sum_want += l_want, sum_minmax += l_minmax;
      // Equal params must also give equal codes: an INT scale (not stored-rounded) a few ulps from the
      // reference's flips the code of a weight that sits on a rounding midpoint.
      bool equal = pg.zero == pw.zero && std::abs(pg.scale - pw.scale) <= 1e-5 * std::abs(pw.scale) &&
                   std::abs(pg.min - pw.min) <= 1e-5 * std::abs(pw.min) + 1e-12;
      for (size_t j = 0; equal && j < len; ++j)
        equal = ref::quantize_value(tg[j], pg, c.spec) == ref::quantize_value(tg[j], pw, c.spec);
      same += equal;
      gained += l_want < l_minmax;
      // Without refits every candidate's params are the reference's, and fp32 losses of ≤ 128² terms
      // decide only near-ties: 1e-4 relative covers their rounding. A refit is fitted in fp32 and
      // then stored-rounded: where the fitted value lies within fp32 error of an fp16 (or code)
      // rounding midpoint, device and float64 land on neighbouring values whose codes differ, so only
      // groups with other params than the reference's are judged in aggregate below.
      // A weight within fp32 rounding of a code boundary under any of these params may round apart on the
      // device, and with full-block scoring one flipped code moves a loss by up to a few %, so the device
      // may rank that candidate differently: a group that misses the bound there is excused (and counted).
      const auto near_tie = [&] {
        for (size_t j = 0; j < len; ++j)
          if (ref::code_near_tie(tg[j], pg, c.spec, 1e-6) || ref::code_near_tie(tg[j], pw, c.spec, 1e-6) ||
              ref::code_near_tie(tg[j], minmax, c.spec, 1e-6))
            return true;
        return false;
      };
      if (!c.scale_search || equal) {
        const bool within = l_got <= l_want * (1 + 1e-4) + 1e-12 && l_got <= l_minmax * (1 + 1e-4) + 1e-12;
        if (!within && near_tie()) {
          ++excused;
          continue;
        }
        EXPECT_LE(l_got, l_want * (1 + 1e-4) + 1e-12) << "group (" << i << ", " << k << ")";
        EXPECT_LE(l_got, l_minmax * (1 + 1e-4) + 1e-12) << "group (" << i << ", " << k << ")";
      }
    }
  // Near-ties are the exception: at most a tenth of the groups, and at most 3 in a case this small (seed
  // 8416263630975570072 gave 3 of 14 with refits, each within fp32 error of a rounding midpoint).
  const size_t total = size_t(c.m) * groups;
  EXPECT_GE(same + std::max<size_t>(3, total / 10), total);
  EXPECT_LE(excused, std::max<size_t>(3, total / 10)) << "code near-ties excused in too many groups";
  EXPECT_LE(sum_got, sum_want * (1 + 1e-2) + 1e-12);
  EXPECT_LE(sum_got, sum_minmax * (1 + 1e-4) + 1e-12);
  if (size_t(c.m) * groups >= 20) {
    EXPECT_GT(gained, 0u) << "no group gained from the search: the case tests nothing";
  }
}

GridSpec int_grid(int bits, size_t group, bool sym) { return {GridFormat::INT, bits, group, sym}; }
GridSpec gguf(GridFormat f) { return {f, 4, 32, false}; }
constexpr auto kFull = ref::ClipScore::full_block;
constexpr auto kDiag = ref::ClipScore::diagonal;

INSTANTIATE_TEST_SUITE_P(
    Grids, ClipCases,
    testing::Values(Case{int_grid(4, 128, false), kFull, 7, 129}, Case{int_grid(3, 32, true), kDiag, 33, 127},
                    Case{int_grid(4, 0, false), kFull, 5, 65}, Case{int_grid(2, 7, false), kFull, 9, 50},
                    Case{int_grid(4, 128, false), kFull, 1, 1}, Case{gguf(GridFormat::Q4_0), kFull, 9, 64},
                    Case{gguf(GridFormat::Q4_1), kDiag, 7, 96}, Case{gguf(GridFormat::Q8_0), kFull, 5, 32},
                    Case{gguf(GridFormat::Q5_1), kFull, 3, 64}, Case{gguf(GridFormat::Q5_0), kDiag, 4, 64},
                    Case{gguf(GridFormat::Q4_0), kFull, 17, 96, true}, Case{gguf(GridFormat::Q4_1), kFull, 13, 64, true},
                    Case{gguf(GridFormat::Q5_1), kDiag, 9, 64, true}, Case{gguf(GridFormat::Q8_0), kFull, 7, 64, true},
                    Case{int_grid(3, 32, true), kFull, 11, 70, true}, Case{int_grid(4, 0, false), kDiag, 5, 65, true},
                    Case{int_grid(4, 128, false), kFull, 7, 129, true}, Case{int_grid(4, 7, false), kFull, 9, 50, true}));

TEST(ClipSearch, ScratchPathEqualsSharedPath) {
  // Groups above the shared-memory size keep Δ in the scratch matrix: force that path with a
  // 32-column shared array and check it gives bit-identical params (the same fp32 operations).
  const uint64_t seed = test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  auto& ctx = vk_context();
  const uint32_t m = 5, n = 100;
  const GridSpec spec = int_grid(4, 0, false);  // one 100-column group per row
  auto t = test::random_floats(rng, size_t(m) * n);
  auto tb = vk::upload_new(ctx, t, "T");
  auto hb = vk::upload_new(ctx, random_hreg(rng, n), "H");
  ref::ClipOptions clip;
  clip.enabled = true;
  clip.expand = 3;
  clip.refit = true;  // the refit keeps its codes where Δ goes
  std::vector<float> out[2];
  for (int forced = 0; forced < 2; ++forced) {
    if (forced) setenv("VKQ_SPEC_CLIP_SEARCH_5", "32", 1);  // read when run() builds the kernel
    kernels::ClipSearch search(ctx, spec, clip);
    auto scratch = vk::upload_new(ctx, test::poisoned(size_t(m) * n), "scratch");
    auto pb = vk::upload_new(ctx, test::poisoned(size_t(m) * 4), "params");
    vk::Stream s(ctx);
    kernels::ClipSearchShape sh;
    sh.m = m, sh.n = n;
    search.run(s, tb, hb, scratch, pb, sh);
    if (forced) unsetenv("VKQ_SPEC_CLIP_SEARCH_5");
    s.submit_and_wait();
    out[forced] = vk::download_all<float>(ctx, pb, size_t(m) * 4);
  }
  for (size_t e = 0; e < out[0].size(); ++e) {
    ASSERT_TRUE(std::isfinite(out[0][e]));
    ASSERT_EQ(out[0][e], out[1][e]) << "element " << e;
  }
}

TEST(ClipSearch, RejectsBadOptions) {
  auto& ctx = vk_context();
  ref::ClipOptions clip;
  clip.candidates = 0;
  EXPECT_THROW(kernels::ClipSearch(ctx, int_grid(4, 128, false), clip), Error);
  clip.candidates = 20;
  clip.step = 0.06;  // 1 − 19·0.06 < 0
  EXPECT_THROW(kernels::ClipSearch(ctx, int_grid(4, 128, false), clip), Error);
  clip.step = 0.01;
  kernels::ClipSearch search(ctx, int_grid(4, 128, false), clip);
  vk::Buffer b(ctx, 64 * 64 * 4, vk::MemoryUse::Device, "buf");
  vk::Buffer small(ctx, 100 * 4, vk::MemoryUse::Device, "small");
  vk::Stream s(ctx);
  kernels::ClipSearchShape sh;
  sh.m = 64, sh.n = 64;
  EXPECT_THROW(search.run(s, b, small, b, b, sh), Error);  // H does not fit
  EXPECT_THROW(search.run(s, b, b, small, b, sh), Error);  // scratch does not fit
}

}  // namespace
}  // namespace vkq
