// Selftest of rtn_quantize (ALGORITHMS.md §4 RTN, grids §3) against ref::encode_matrix: the share
// of codes that differ from the float64 reference (only near-ties may) and Q's error elsewhere;
// GGUF params must equal the reference's, or be their fp16 neighbours in a few groups.
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
    // GGUF params are fp16: where the fp32 min-max lands on the other side of an fp16 midpoint than
    // float64, the device's neighbouring params are right, and that group is checked against them.
    const auto minmax = ref::encode_matrix(td.data(), sh.m, sh.n, sh.spec);
    auto params = minmax.params;
    const auto got_params = kernels::params_from_device(vk::download_all<float>(ctx, pb, size_t(sh.m) * groups * 4));
    size_t neighbours = 0, wrong_params = 0;
    if (ref::is_gguf(sh.spec))
      for (size_t k = 0; k < params.size(); ++k) {
        const auto& d = got_params[k];
        if (d.scale == params[k].scale && d.min == params[k].min) continue;
        if (fp16_neighbours(d.scale, params[k].scale) && fp16_neighbours(d.min, params[k].min) &&
            d.zero == params[k].zero)
          ++neighbours, params[k] = d;
        else
          ++wrong_params;
      }
    const auto want = ref::encode_with_params(td.data(), sh.m, sh.n, sh.spec, params);
    const auto wq = ref::decode_matrix(want, sh.spec);
    const auto codes = vk::download_all<int32_t>(ctx, cb, t.size());
    const auto q = vk::download_all<float>(ctx, qb, t.size());
    const size_t g = kernels::grid_group_columns(sh.spec, sh.n);
    size_t differ = 0;
    double q_err = 0, q_max = 0;
    for (size_t e = 0; e < t.size(); ++e) {
      q_max = std::max(q_max, std::abs(wq[e]));
      if (codes[e] != want.codes[e]) {
        differ += !ref::code_near_tie(td[e], want.params[e / sh.n * groups + (e % sh.n) / g], sh.spec);
        continue;
      }
      q_err = std::isfinite(q[e]) ? std::max(q_err, std::abs(double(q[e]) - wq[e])) : INFINITY;
    }
    row.max_error = double(differ);
    const bool q_ok = q_err <= 1e-5 * std::max(q_max, 1e-30);  // fp32 scale·(q − zero) + min
    row.passed = row.max_error <= row.tolerance && q_ok && wrong_params == 0 && neighbours * 10 <= params.size();
    if (wrong_params > 0) row.message = std::to_string(wrong_params) + " groups' params differ from the reference's";
    else if (neighbours * 10 > params.size()) row.message = "fp16 neighbours of the reference params in over a tenth of the groups";
    else if (!q_ok) row.message = "dequantized Q differs from the reference (rel " + std::to_string(q_err / q_max) + ")";
    else if (!row.passed) row.message = "codes differ from the float64 reference beyond near-ties";
    rows.push_back(row);
  }
  return rows;
}

}  // namespace vkq::selftest
