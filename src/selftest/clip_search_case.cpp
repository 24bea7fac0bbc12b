// Selftest of clip_search (ALGORITHMS.md §3 scale/clip search) against ref::clip_search_params: the
// worst relative excess of a chosen candidate's float64 loss over the reference optimum.
#include <algorithm>
#include <cmath>
#include <string>

#include "kernels/clip_search.hpp"
#include "kernels/rtn.hpp"
#include "reference/grid.hpp"
#include "reference/scale_search.hpp"
#include "selftest/selftest_case.hpp"

namespace vkq::selftest {

std::vector<SelftestRow> clip_search_case(vk::Context& ctx, std::mt19937_64& rng) {
  struct Shape {
    const char* name;
    ref::GridSpec spec;
    ref::ClipScore score;
    uint32_t m, n;
    bool scale_search;  // candidates above min-max (and about the min), each with its least-squares refit
  };
  const Shape shapes[] = {
      {"INT4 g128 full", {ref::GridFormat::INT, 4, 128, false}, ref::ClipScore::full_block, 16, 257, false},
      {"INT3 g32 diag", {ref::GridFormat::INT, 3, 32, false}, ref::ClipScore::diagonal, 33, 127, false},
      {"Q4_0 full", {ref::GridFormat::Q4_0, 4, 32, false}, ref::ClipScore::full_block, 16, 128, false},
      {"Q4_0 scale search", {ref::GridFormat::Q4_0, 4, 32, false}, ref::ClipScore::full_block, 16, 128, true},
      {"Q5_1 scale search", {ref::GridFormat::Q5_1, 5, 32, false}, ref::ClipScore::full_block, 9, 96, true}};
  std::vector<SelftestRow> rows;
  for (const auto& sh : shapes) {
    SelftestRow row;
    row.kernel = "clip_search";
    row.shape = std::string(sh.name) + " " + std::to_string(sh.m) + "x" + std::to_string(sh.n);
    row.metric = "max rel loss excess";
    row.tolerance = 1e-4;  // fp32 losses may pick the other of two candidates equal within rounding
    const uint32_t n = sh.n, groups = kernels::grid_groups_per_row(sh.spec, n);
    // H̃ = (2/N) XᵀX + 0.01 μ I, an SPD regularised Gram.
    const uint32_t tokens = 2 * n;
    auto x = uniform(rng, size_t(tokens) * n, -1.0f, 1.0f);
    std::vector<double> h(size_t(n) * n, 0.0);
    for (uint32_t t = 0; t < tokens; ++t)
      for (uint32_t i = 0; i < n; ++i)
        for (uint32_t j = 0; j < n; ++j) h[size_t(i) * n + j] += 2.0 / tokens * x[size_t(t) * n + i] * x[size_t(t) * n + j];
    double mu = 0;
    for (uint32_t i = 0; i < n; ++i) mu += h[size_t(i) * n + i] / n;
    for (uint32_t i = 0; i < n; ++i) h[size_t(i) * n + i] += 0.01 * mu;
    const std::vector<float> hf(h.begin(), h.end());
    const std::vector<double> hd(hf.begin(), hf.end());
    auto t = uniform(rng, size_t(sh.m) * n, -1.0f, 1.0f);
    for (size_t e = 0; e < t.size(); e += 11) t[e] *= 4.0f;  // outliers: where clipping pays
    const std::vector<double> td(t.begin(), t.end());
    ref::ClipOptions clip;
    clip.enabled = true;
    clip.score = sh.score;
    if (sh.scale_search) {
      clip.expand = 8;
      clip.refit = true;
      clip.about_min = true;
    }
    auto tb = vk::upload_new(ctx, t, "T");
    auto hb = vk::upload_new(ctx, hf, "H");
    auto scratch = vk::upload_new(ctx, nan_filled(t.size()), "scratch");
    auto pb = vk::upload_new(ctx, nan_filled(size_t(sh.m) * groups * 4), "params");
    kernels::ClipSearch search(ctx, sh.spec, clip);
    vk::Stream s(ctx);
    kernels::ClipSearchShape cs;
    cs.m = sh.m, cs.n = n;
    const uint32_t t0 = s.timestamp();
    search.run(s, tb, hb, scratch, pb, cs);
    const uint32_t t1 = s.timestamp();
    s.submit_and_wait();
    row.millis = s.elapsed_ms(t0, t1);
    const auto got = kernels::params_from_device(vk::download_all<float>(ctx, pb, size_t(sh.m) * groups * 4));
    const auto want = ref::clip_search_params(td.data(), sh.m, n, hd.data(), sh.spec, clip);
    const size_t g = kernels::grid_group_columns(sh.spec, n);
    double worst = 0;
    // Pass 1: reference losses, whose largest sets the floor under a group's own loss (a 1-column
    // group can reach loss 0 exactly in float64 while fp32 rounding leaves ~1e-15).
    std::vector<double> lw(size_t(sh.m) * groups), lg(lw.size());
    double lw_max = 0;
    for (uint32_t i = 0; i < sh.m; ++i)
      for (uint32_t k = 0; k < groups; ++k) {
        const size_t j0 = k * g, len = std::min<size_t>(g, n - j0);
        const double* tg = td.data() + size_t(i) * n + j0;
        const double* hg = hd.data() + j0 * n + j0;
        const auto& p = got[size_t(i) * groups + k];
        if (!std::isfinite(p.scale)) {
          worst = INFINITY;  // never written
          continue;
        }
        const size_t e = size_t(i) * groups + k;
        lg[e] = ref::clip_candidate_loss(tg, len, hg, n, sh.spec, p, sh.score);
        lw[e] = ref::clip_candidate_loss(tg, len, hg, n, sh.spec, want[e], sh.score);
        lw_max = std::max(lw_max, lw[e]);
      }
    // Candidates are computed in fp32 and scored in fp32, GGUF params stored as fp16. A group may end on
    // other params than the reference's, a few % above its optimum, where (a) a weight lies within fp32
    // rounding of a code boundary under either group's params (one flipped code moves a full-block loss by
    // up to a few %), or — in the scale-search rows — (b) any candidate's refit lands near an fp16 rounding
    // midpoint, so the device weighs a neighbouring candidate the reference never sees. A group with the
    // reference's params is judged on its own loss unless (a) excuses it; in the scale-search rows, groups
    // with other params are judged together: all groups' summed loss within 1 % of the reference's (scaled
    // by 1e-2 into the row's metric). Excused and differing groups must stay the exception (a fifth).
    const auto near_tie = [&](size_t e, const ref::GroupParams& prm) {
      const size_t i = e / groups, j0 = (e % groups) * g, len = std::min<size_t>(g, n - j0);
      for (size_t j = 0; j < len; ++j)
        if (ref::code_near_tie(td[i * n + j0 + j], prm, sh.spec, 1e-6)) return true;
      return false;
    };
    size_t exceptions = 0;
    double sum_got = 0, sum_want = 0;
    for (size_t e = 0; e < lw.size(); ++e) {
      const auto& p = got[e];
      const auto& q = want[e];
      sum_got += lg[e], sum_want += lw[e];
      const bool same = std::abs(p.scale - q.scale) <= 1e-5 * std::abs(q.scale) &&
                        std::abs(p.min - q.min) <= 1e-5 * std::abs(q.min) + 1e-12;
      const double excess = (lg[e] - lw[e]) / std::max(lw[e], 1e-9 * lw_max + 1e-300);
      if (excess <= row.tolerance) continue;
      if ((sh.scale_search && !same) || near_tie(e, p) || near_tie(e, q)) {
        ++exceptions;
        continue;
      }
      worst = std::max(worst, excess);
    }
    if (exceptions > 0) worst = std::max(worst, 1e-2 * (sum_got - sum_want) / std::max(sum_want, 1e-300));
    if (exceptions * 5 > lw.size()) worst = INFINITY;
    row.max_error = worst;
    row.passed = worst <= row.tolerance;
    if (!row.passed)
      row.message = exceptions * 5 > lw.size() ? "other params than the reference's in over a fifth of the groups"
                                               : "a chosen clip is worse than the float64 optimum";
    rows.push_back(row);
  }
  return rows;
}

}  // namespace vkq::selftest
