// Selftest of gptq_sweep_block + tail GEMM (kernels::GptqSweep) against ref::gptq_quantize.
#include <cstdint>
#include <string>

#include "kernels/gptq_sweep.hpp"
#include "selftest/gbs_case_problem.hpp"
#include "selftest/selftest_case.hpp"

namespace vkq::selftest {

std::vector<SelftestRow> gptq_sweep_case(vk::Context& ctx, std::mt19937_64& rng) {
  struct Shape {
    uint32_t m, n, block;
    ref::GridFormat format;
    int bits;
    size_t group;
    bool act_order, dynamic;
  };
  const Shape shapes[] = {{7, 129, 128, ref::GridFormat::INT, 4, 32, false, false},
                          {33, 256, 128, ref::GridFormat::Q4_0, 4, 32, true, false},
                          {16, 200, 64, ref::GridFormat::INT, 3, 64, true, true}};
  std::vector<SelftestRow> rows;
  for (const auto& sh : shapes) {
    ref::GridSpec spec;
    spec.format = sh.format, spec.bits = sh.bits, spec.group = sh.group;
    SelftestRow row;
    row.kernel = "gptq_sweep_block";
    row.shape = std::to_string(sh.m) + "x" + std::to_string(sh.n) +
                (sh.format == ref::GridFormat::INT ? " int" + std::to_string(sh.bits) + " g" + std::to_string(sh.group)
                                                   : std::string(" Q4_0")) +
                (sh.act_order ? " act-order" : "") + (sh.dynamic ? " dynamic" : " static");
    row.metric = "row loss rel err";
    row.tolerance = 1e-4;  // identical codes: fp32 rounding of the error-updated rows only
    const auto p = make_gbs_case_problem(rng, sh.m, sh.n, spec, sh.act_order);
    kernels::GridDesc d;
    d.format = kernels::GridFormatId(uint32_t(sh.format)), d.bits = uint32_t(sh.bits);
    d.group = uint32_t(ref::group_size(spec, sh.n));
    const size_t mn = size_t(sh.m) * sh.n, ng = d.groups_per_row(sh.n);
    auto w = vk::upload_new(ctx, p.t_perm, "W");
    auto u = vk::upload_new(ctx, p.u, "U");
    auto perm = vk::upload_new(ctx, p.perm, "perm");
    auto params = vk::upload_new(ctx, sh.dynamic ? nan_filled(sh.m * ng * 4) : p.params_dev, "params");
    auto codes = vk::upload_new(ctx, std::vector<int32_t>(mn, INT32_MIN), "codes");
    auto deq = vk::upload_new(ctx, nan_filled(mn), "deq");
    auto loss = vk::upload_new(ctx, nan_filled(sh.m), "loss");
    kernels::GptqSweep sweep(ctx, d);
    vk::Stream s(ctx);
    const uint32_t t0 = s.timestamp();
    sweep.run(s, {&w, &u, &perm, &params, &codes, &deq, &loss}, {sh.m, sh.n, sh.block, sh.dynamic});
    const uint32_t t1 = s.timestamp();
    s.submit_and_wait();
    row.millis = s.elapsed_ms(t0, t1);
    ref::SweepOptions opt;
    opt.grid = spec, opt.static_groups = !sh.dynamic, opt.block = sh.block;
    const auto want = ref::gptq_quantize(p.problem(), opt, p.params);
    const auto c = compare_gbs_case(p, vk::download_all<int32_t>(ctx, codes, mn), vk::download_all<float>(ctx, deq, mn),
                                    vk::download_all<float>(ctx, loss, sh.m), want);
    row.max_error = c.max_loss_rel;
    // fp32 and float64 may round apart at a near-tie, after which a row follows another path.
    const bool enough_identical = c.rows_identical * 10 >= size_t(sh.m) * 9;
    row.passed = c.finite && enough_identical && row.max_error <= row.tolerance;
    if (!c.finite) row.message = "non-finite output (unwritten element?)";
    else if (!enough_identical)
      row.message = "codes differ from the float64 reference in " + std::to_string(sh.m - c.rows_identical) + " of " +
                    std::to_string(sh.m) + " rows";
    else if (!row.passed) row.message = "row loss differs from the float64 reference";
    rows.push_back(row);
  }
  return rows;
}

}  // namespace vkq::selftest
