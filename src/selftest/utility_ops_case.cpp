// Selftest rows for the solver's helper kernels (scale_columns, gather_matrix, row_quadratic_form,
// group_refit_terms, grid_encode) and bench/'s compute roof (peak_fma),
// each on one awkward shape against its float64 reference.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "kernels/gather_matrix.hpp"
#include "kernels/gemm.hpp"
#include "kernels/grid_params.hpp"
#include "kernels/group_refit_terms.hpp"
#include "kernels/peak_fma.hpp"
#include "kernels/row_quadratic_form.hpp"
#include "kernels/scale_columns.hpp"
#include "reference/grid.hpp"
#include "reference/peak_fma_ref.hpp"
#include "reference/row_refit.hpp"
#include "selftest/selftest_case.hpp"

namespace vkq::selftest {

std::vector<SelftestRow> utility_ops_case(vk::Context& ctx, std::mt19937_64& rng) {
  std::vector<SelftestRow> rows;
  {  // peak_fma (bench/'s compute roof): 1000 invocations, 257 steps
    const kernels::PeakFmaShape sh{1000, 257, 0.999f, 0.001f};
    auto ob = vk::upload_new(ctx, nan_filled(sh.invocations), "out");
    kernels::PeakFma k(ctx);
    rows.push_back(timed_row(
        ctx, "peak_fma", "1000 x 257 steps", 3e-5,  // worst case: 257 roundings of 6e-8 each, 8 values summed
        [&](vk::Stream& s) { k.run(s, ob, sh); },
        [&] {
          return relative_error(vk::download_all<float>(ctx, ob, sh.invocations),
                                ref::peak_fma_ref(sh.invocations, sh.iterations, sh.a, sh.b, kernels::PeakFma::kChains));
        }));
  }
  {  // scale_columns: (A ⊘ s) − B on a 37 × 129 block
    const uint32_t m = 37, n = 129;
    auto a = uniform(rng, size_t(m) * n, -2, 2), sc = uniform(rng, n, 0.5f, 2.0f), b = uniform(rng, size_t(m) * n, -1, 1);
    auto ab = vk::upload_new(ctx, a, "A"), sb = vk::upload_new(ctx, sc, "s"), bb = vk::upload_new(ctx, b, "B");
    kernels::ColumnScale k(ctx);
    kernels::ColumnScaleShape sh;
    sh.m = m, sh.n = n, sh.divide = true;
    rows.push_back(timed_row(
        ctx, "scale_columns", "37x129 divide minus", 5e-7,  // one rounded divide and one subtract
        [&](vk::Stream& s) { k.run_minus(s, ab, sb, bb, sh); },
        [&] {
          std::vector<double> want(a.size());
          for (uint32_t i = 0; i < m; ++i)
            for (uint32_t j = 0; j < n; ++j)
              want[size_t(i) * n + j] = double(a[size_t(i) * n + j]) / sc[j] - b[size_t(i) * n + j];
          return relative_error(vk::download_all<float>(ctx, ab, a.size()), want);
        }));
  }
  {  // gather_matrix: rows and columns of a 67 × 67 matrix by a random permutation (exact copy)
    const uint32_t n = 67;
    auto a = uniform(rng, size_t(n) * n, -1, 1);
    std::vector<uint32_t> order(n);
    std::iota(order.begin(), order.end(), 0u);
    std::shuffle(order.begin(), order.end(), rng);
    auto src = vk::upload_new(ctx, a, "A");
    auto map = kernels::GatherMatrix::upload_map(ctx, order, n, "order");
    auto out = vk::upload_new(ctx, nan_filled(a.size()), "gathered");
    kernels::GatherMatrix g(ctx);
    rows.push_back(timed_row(
        ctx, "gather_matrix", "67x67 rows+cols", 0.0,  // a copy: exact
        [&](vk::Stream& s) { g.run(s, src, n, n, &map, map, out, n, n); },
        [&] {
          std::vector<double> want(a.size());
          for (uint32_t i = 0; i < n; ++i)
            for (uint32_t j = 0; j < n; ++j) want[size_t(i) * n + j] = a[size_t(order[i]) * n + order[j]];
          return relative_error(vk::download_all<float>(ctx, out, a.size()), want);
        }));
  }
  {  // row_quadratic_form: r_i = Σ_j g_ij e_ij over 41 rows of 1000 positive terms
    const uint32_t m = 41, n = 1000;
    auto g = uniform(rng, size_t(m) * n, 0, 1), e = uniform(rng, size_t(m) * n, 0, 1);
    auto gb = vk::upload_new(ctx, g, "G"), eb = vk::upload_new(ctx, e, "E");
    auto rb = vk::upload_new(ctx, nan_filled(m), "r");
    kernels::RowQuadraticForm k(ctx);
    kernels::RowDotShape sh;
    sh.m = m, sh.n = n;
    rows.push_back(timed_row(
        ctx, "row_quadratic_form", "41x1000", 2e-6,  // fp32 sums of 1000 positive products
        [&](vk::Stream& s) { k.run(s, gb, eb, rb, sh); },
        [&] {
          std::vector<double> want(m, 0.0);
          for (uint32_t i = 0; i < m; ++i)
            for (uint32_t j = 0; j < n; ++j) want[i] += double(g[size_t(i) * n + j]) * e[size_t(i) * n + j];
          return relative_error(vk::download_all<float>(ctx, rb, m), want);
        }));
  }
  {  // group_refit_terms: ss, sm, ms of 37 rows (the last all ones), n = 100 (Q5_1 groups of 32, the last partial)
    const uint32_t m = 37, n = 100, groups = 4, per_row = groups * groups;
    auto hf = uniform(rng, size_t(n) * n, -1, 1);
    std::vector<float> uf(size_t(m) * n, 1.0f);
    std::uniform_int_distribution<int> code(-16, 15);
    for (size_t e = 0; e < size_t(m - 1) * n; ++e) uf[e] = float(code(rng));  // decoded codes at scale 1
    auto hb = vk::upload_new(ctx, hf, "H"), ub = vk::upload_new(ctx, uf, "U");
    auto zb = vk::upload_new(ctx, nan_filled(uf.size()), "Z");
    auto ssb = vk::upload_new(ctx, nan_filled(size_t(m) * per_row), "ss");
    auto smb = vk::upload_new(ctx, nan_filled(size_t(m) * per_row), "sm");
    auto msb = vk::upload_new(ctx, nan_filled(size_t(m) * per_row), "ms");
    kernels::Gemm gemm(ctx);
    kernels::GroupRefitTerms k(ctx, gemm);
    kernels::GroupRefitShape sh;
    sh.rows = m, sh.n = n, sh.group = 32, sh.ones_row = m - 1, sh.with_min = true;
    ref::GridSpec spec;
    spec.format = ref::GridFormat::Q5_1, spec.bits = 5, spec.group = 32;
    rows.push_back(timed_row(
        ctx, "group_refit_terms", "Q5_1 37x100", 2e-6,  // fp32 sums of ≤ 1024 products, to the largest term
        [&](vk::Stream& s) { k.run(s, hb, ub, zb, ssb, smb, msb, sh); },
        [&] {
          const std::vector<double> hd = to_d(hf), t(n, 0.0);
          std::vector<double> want;
          for (uint32_t i = 0; i < m; ++i) {
            const std::vector<double> u(uf.begin() + ptrdiff_t(size_t(i) * n), uf.begin() + ptrdiff_t(size_t(i + 1) * n));
            const ref::RowRefitTerms r = ref::row_refit_terms(t.data(), u.data(), n, hd.data(), spec);
            want.insert(want.end(), r.ss.begin(), r.ss.end());
            want.insert(want.end(), r.sm.begin(), r.sm.end());
            want.insert(want.end(), r.ms.begin(), r.ms.end());
          }
          std::vector<float> got;
          const auto ss = vk::download_all<float>(ctx, ssb, size_t(m) * per_row);
          const auto sm = vk::download_all<float>(ctx, smb, size_t(m) * per_row);
          const auto ms = vk::download_all<float>(ctx, msb, size_t(m) * per_row);
          for (uint32_t i = 0; i < m; ++i)
            for (const auto* v : {&ss, &sm, &ms}) got.insert(got.end(), v->begin() + i * per_row, v->begin() + (i + 1) * per_row);
          return relative_error(got, want);
        }));
  }
  {  // grid_encode: device min-max Q4_0 params (d = extreme/−8, exact in fp32), codes and values of 33 × 128
    const uint32_t m = 33, n = 128, groups = n / 32;
    auto w = uniform(rng, size_t(m) * n, -1, 1);
    auto wb = vk::upload_new(ctx, w, "W");
    auto pb = vk::upload_new(ctx, nan_filled(size_t(m) * groups * 4), "params");
    auto cb = vk::upload_new(ctx, std::vector<int32_t>(size_t(m) * n, -1000), "codes");
    auto db = vk::upload_new(ctx, nan_filled(w.size()), "dequantized");
    kernels::GridDesc d;
    d.format = kernels::GridFormatId::Q4_0, d.group = 32;
    kernels::GridEncode enc(ctx, d);
    ref::GridSpec spec;
    spec.format = ref::GridFormat::Q4_0, spec.group = 32;
    SelftestRow row = timed_row(
        ctx, "grid_encode", "Q4_0 33x128 min-max", 0,  // codes differ only within fp32 rounding of a tie
        [&](vk::Stream& s) { enc.encode(s, wb, m, n, pb, cb, db); },
        [&] {
          const std::vector<double> wd = to_d(w);
          const auto want = ref::encode_matrix(wd.data(), m, n, spec);
          const auto wq = ref::decode_matrix(want, spec);
          const auto codes = vk::download_all<int32_t>(ctx, cb, w.size());
          const auto q = vk::download_all<float>(ctx, db, w.size());
          double differ = 0;
          for (size_t e = 0; e < w.size(); ++e) {
            if (codes[e] != want.codes[e]) {
              differ += !ref::code_near_tie(wd[e], want.params[e / n * groups + (e % n) / 32], spec);
              continue;
            }
            if (!(std::abs(double(q[e]) - wq[e]) <= 1e-6)) differ += 1;  // same code: the same level
          }
          return differ;
        });
    row.metric = "values differing off ties";
    if (!row.passed) row.message = "codes or values differ from the float64 reference beyond near-ties";
    rows.push_back(row);
  }
  return rows;
}

}  // namespace vkq::selftest
