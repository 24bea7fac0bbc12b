// Selftest of beam_sweep (kernels::BeamSweep) against ref::beam_quantize at K = 4, and K = 1
// against the greedy sweep (bit-identical by construction).
#include <cstdint>
#include <cstring>
#include <string>

#include "kernels/beam_sweep.hpp"
#include "kernels/gptq_sweep.hpp"
#include "reference/beam.hpp"
#include "selftest/gbs_case_problem.hpp"
#include "selftest/selftest_case.hpp"

namespace vkq::selftest {

namespace {

struct BeamOut {
  std::vector<int32_t> codes;
  std::vector<float> deq, loss;
  double millis = 0;
};

BeamOut run_device(vk::Context& ctx, const GbsCaseProblem& p, const kernels::GridDesc& d, uint32_t width,
                   uint32_t block) {
  const size_t mn = size_t(p.m) * p.n;
  auto t = vk::upload_new(ctx, p.t_perm, "T");
  auto u = vk::upload_new(ctx, p.u, "U");
  auto perm = vk::upload_new(ctx, p.perm, "perm");
  auto params = vk::upload_new(ctx, p.params_dev, "params");
  auto codes = vk::upload_new(ctx, std::vector<int32_t>(mn, INT32_MIN), "codes");
  auto deq = vk::upload_new(ctx, nan_filled(mn), "deq");
  auto loss = vk::upload_new(ctx, nan_filled(p.m), "loss");
  vk::Stream s(ctx);
  const uint32_t t0 = s.timestamp();
  std::unique_ptr<kernels::BeamSweep> beam;
  std::unique_ptr<kernels::GptqSweep> greedy;
  if (width > 0) {
    beam = std::make_unique<kernels::BeamSweep>(ctx, d, width);
    beam->run(s, {&t, &u, &perm, &params, &codes, &deq, &loss}, {p.m, p.n, block});
  } else {  // width 0 here means the greedy sweep (it overwrites its rows: t is a private copy)
    greedy = std::make_unique<kernels::GptqSweep>(ctx, d);
    greedy->run(s, {&t, &u, &perm, &params, &codes, &deq, &loss}, {p.m, p.n, block, false});
  }
  const uint32_t t1 = s.timestamp();
  s.submit_and_wait();
  return {vk::download_all<int32_t>(ctx, codes, mn), vk::download_all<float>(ctx, deq, mn),
          vk::download_all<float>(ctx, loss, p.m), s.elapsed_ms(t0, t1)};
}

}  // namespace

std::vector<SelftestRow> beam_case(vk::Context& ctx, std::mt19937_64& rng) {
  struct Shape {
    uint32_t m, n, block;
    ref::GridFormat format;
    bool act_order;
  };
  const Shape shapes[] = {{7, 96, 128, ref::GridFormat::INT, true}, {5, 64, 32, ref::GridFormat::Q5_1, false}};
  std::vector<SelftestRow> rows;
  for (const auto& sh : shapes) {
    ref::GridSpec spec;
    spec.format = sh.format, spec.bits = 4, spec.group = 32;
    const auto p = make_gbs_case_problem(rng, sh.m, sh.n, spec, sh.act_order);
    kernels::GridDesc d;
    d.format = kernels::GridFormatId(uint32_t(sh.format)), d.bits = 4, d.group = 32;
    const std::string shape = std::to_string(sh.m) + "x" + std::to_string(sh.n) +
                              (sh.format == ref::GridFormat::INT ? " int4 g32" : " Q5_1") +
                              (sh.act_order ? " act-order" : "");

    SelftestRow row;
    row.kernel = "beam_sweep";
    row.shape = shape + " K=4";
    row.metric = "row loss rel err";
    row.tolerance = 1e-4;  // identical codes: fp32 rounding of the error-updated rows only
    const auto got = run_device(ctx, p, d, 4, sh.block);
    row.millis = got.millis;
    ref::SweepOptions opt;
    opt.grid = spec, opt.block = sh.block;
    const auto want = ref::beam_quantize(p.problem(), opt, p.params, 4);
    const auto c = compare_gbs_case(p, got.codes, got.deq, got.loss, want);
    row.max_error = c.max_loss_rel;
    const bool enough_identical = c.rows_identical * 10 >= size_t(sh.m) * 9;
    row.passed = c.finite && enough_identical && row.max_error <= row.tolerance;
    if (!c.finite) row.message = "non-finite output (unwritten element?)";
    else if (!enough_identical)
      row.message = "codes differ from the float64 reference in " + std::to_string(sh.m - c.rows_identical) + " of " +
                    std::to_string(sh.m) + " rows";
    else if (!row.passed) row.message = "row loss differs from the float64 reference";
    rows.push_back(row);

    SelftestRow one;
    one.kernel = "beam_sweep";
    one.shape = shape + " K=1 vs greedy";
    one.metric = "elements not bit-identical";
    one.tolerance = 0;  // K = 1 is the greedy sweep with the same arithmetic
    const auto k1 = run_device(ctx, p, d, 1, sh.block);
    const auto gr = run_device(ctx, p, d, 0, sh.block);
    one.millis = k1.millis;
    size_t differ = 0;
    for (size_t i = 0; i < k1.codes.size(); ++i)
      differ += k1.codes[i] != gr.codes[i] || std::memcmp(&k1.deq[i], &gr.deq[i], sizeof(float)) != 0;
    for (size_t i = 0; i < k1.loss.size(); ++i) differ += std::memcmp(&k1.loss[i], &gr.loss[i], sizeof(float)) != 0;
    one.max_error = double(differ);
    one.passed = differ == 0;
    if (!one.passed) one.message = "beam width 1 differs from the greedy sweep";
    rows.push_back(one);
  }
  return rows;
}

}  // namespace vkq::selftest
