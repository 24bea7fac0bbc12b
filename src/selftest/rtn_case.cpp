// Selftest of rtn_quantize (ALGORITHMS.md §4 RTN, grids §3) against ref::encode_matrix: the share
// of codes that differ from the float64 reference (only near-ties may) and Q's error elsewhere.
#include <algorithm>
#include <cmath>
#include <string>

#include "kernels/rtn.hpp"
#include "reference/grid.hpp"
#include "selftest/selftest_case.hpp"

namespace vkq::selftest {

std::vector<SelftestRow> rtn_case(vk::Context& ctx, std::mt19937_64& rng) {
  struct Shape {
    const char* name;
    ref::GridSpec spec;
    uint32_t m, n;
  };
  const Shape shapes[] = {{"INT4 g128", {ref::GridFormat::INT, 4, 128, false}, 33, 257},
                          {"INT3 sym g32", {ref::GridFormat::INT, 3, 32, true}, 7, 127},
                          {"Q4_0", {ref::GridFormat::Q4_0, 4, 32, false}, 64, 256},
                          {"Q5_1", {ref::GridFormat::Q5_1, 4, 32, false}, 17, 96},
                          {"Q8_0", {ref::GridFormat::Q8_0, 4, 32, false}, 9, 512}};
  std::vector<SelftestRow> rows;
  for (const auto& sh : shapes) {
    SelftestRow row;
    row.kernel = "rtn_quantize";
    row.shape = std::string(sh.name) + " " + std::to_string(sh.m) + "x" + std::to_string(sh.n);
    row.metric = "codes differing off ties";
    row.tolerance = 0;  // fp32 and float64 round apart only within fp32 rounding of a tie
    const uint32_t groups = kernels::grid_groups_per_row(sh.spec, sh.n);
    auto t = uniform(rng, size_t(sh.m) * sh.n, -1.0f, 1.0f);
    auto tb = vk::upload_new(ctx, t, "T");
    auto pb = vk::upload_new(ctx, nan_filled(size_t(sh.m) * groups * 4), "params");
    auto cb = vk::upload_new(ctx, std::vector<int32_t>(size_t(sh.m) * sh.n, INT32_MIN), "codes");
    auto qb = vk::upload_new(ctx, nan_filled(size_t(sh.m) * sh.n), "Q");
    kernels::Rtn rtn(ctx, sh.spec);
    vk::Stream s(ctx);
    kernels::RtnShape rs;
    rs.m = sh.m, rs.n = sh.n;
    const uint32_t t0 = s.timestamp();
    rtn.run(s, tb, pb, cb, qb, rs);
    const uint32_t t1 = s.timestamp();
    s.submit_and_wait();
    row.millis = s.elapsed_ms(t0, t1);
    const std::vector<double> td(t.begin(), t.end());
    const auto want = ref::encode_matrix(td.data(), sh.m, sh.n, sh.spec);
    const auto wq = ref::decode_matrix(want, sh.spec);
    const auto codes = vk::download_all<int32_t>(ctx, cb, t.size());
    const auto q = vk::download_all<float>(ctx, qb, t.size());
    const size_t g = kernels::grid_group_columns(sh.spec, sh.n);
    size_t differ = 0;
    double q_err = 0, q_max = 0;
    for (size_t e = 0; e < t.size(); ++e) {
      q_max = std::max(q_max, std::abs(wq[e]));
      if (codes[e] != want.codes[e]) {
        differ += !code_near_tie(td[e], want.params[e / sh.n * groups + (e % sh.n) / g], sh.spec);
        continue;
      }
      q_err = std::isfinite(q[e]) ? std::max(q_err, std::abs(double(q[e]) - wq[e])) : INFINITY;
    }
    row.max_error = double(differ);
    const bool q_ok = q_err <= 1e-5 * std::max(q_max, 1e-30);  // fp32 scale·(q − zero) + min
    row.passed = row.max_error <= row.tolerance && q_ok;
    if (!q_ok) row.message = "dequantized Q differs from the reference (rel " + std::to_string(q_err / q_max) + ")";
    else if (!row.passed) row.message = "codes differ from the float64 reference beyond near-ties";
    rows.push_back(row);
  }
  return rows;
}

}  // namespace vkq::selftest
