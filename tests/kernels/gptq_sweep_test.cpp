// gptq_sweep_block + tail GEMM (kernels::GptqSweep) vs the float64 reference sweep
// (ref::gptq_quantize): INT and GGUF grids, natural and act-order, static and dynamic groups,
// awkward m and n (n not a multiple of B), poisoned outputs.
#include <gtest/gtest.h>

#include <cmath>
#include <algorithm>
#include <cstdio>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "gbs_test_problem.hpp"
#include "kernels/gptq_sweep.hpp"
#include "reference/gptq.hpp"
#include "support/test_seed.hpp"
#include "support/vk_test_env.hpp"

namespace vkq {
namespace {

using test::vk_context;

kernels::GridDesc desc_of(const ref::GridSpec& s, uint32_t n) {
  kernels::GridDesc d;
  d.format = kernels::GridFormatId(uint32_t(s.format));
  d.bits = uint32_t(s.bits);
  d.symmetric = s.symmetric;
  d.group = uint32_t(ref::group_size(s, n));
  return d;
}

struct DeviceSweep {
  std::vector<int32_t> codes;
  std::vector<float> deq, loss, params;
};

DeviceSweep run_sweep(const test::GbsProblem& p, bool dynamic, uint32_t block) {
  auto& ctx = vk_context();
  const auto d = desc_of(p.spec, p.n);
  const size_t mn = size_t(p.m) * p.n, ng = d.groups_per_row(p.n);
  auto w = vk::upload_new(ctx, p.t_perm, "W");
  auto u = vk::upload_new(ctx, p.u, "U");
  auto perm = vk::upload_new(ctx, p.perm, "perm");
  auto params = vk::upload_new(ctx, dynamic ? test::poisoned(size_t(p.m) * ng * 4) : p.static_params_dev, "params");
  auto codes = vk::upload_new(ctx, std::vector<int32_t>(mn, INT32_MIN), "codes");
  auto deq = vk::upload_new(ctx, test::poisoned(mn), "deq");
  auto loss = vk::upload_new(ctx, test::poisoned(p.m), "loss");
  kernels::GptqSweep sweep(ctx, d);
  vk::Stream s(ctx);
  sweep.run(s, {&w, &u, &perm, &params, &codes, &deq, &loss}, {p.m, p.n, block, dynamic});
  s.submit_and_wait();
  return {vk::download_all<int32_t>(ctx, codes, mn), vk::download_all<float>(ctx, deq, mn),
          vk::download_all<float>(ctx, loss, p.m), vk::download_all<float>(ctx, params, size_t(p.m) * ng * 4)};
}

using test::gguf_grid;
using test::int_grid;
using Config = test::GbsConfig;

std::vector<Config> configs() {
  return {
      {"int4_g16", int_grid(4, 16, false), 7, 129, 128},
      {"int4_g32_b12", int_grid(4, 32, false), 33, 100, 12},
      {"int3sym_channel", int_grid(3, 0, true), 65, 33, 16},
      {"int8_g64", int_grid(8, 64, false), 1, 200, 40},
      {"int2_g128", int_grid(2, 128, false), 17, 257, 128},
      {"q4_0", gguf_grid(ref::GridFormat::Q4_0), 9, 160, 48},
      {"q4_1", gguf_grid(ref::GridFormat::Q4_1), 5, 64, 128},
      {"q5_0", gguf_grid(ref::GridFormat::Q5_0), 3, 96, 32},
      {"q5_1", gguf_grid(ref::GridFormat::Q5_1), 12, 128, 20},
      {"q8_0", gguf_grid(ref::GridFormat::Q8_0), 6, 64, 64},
  };
}

class GptqSweepCase : public testing::TestWithParam<std::tuple<Config, bool, bool>> {};

TEST_P(GptqSweepCase, MatchesReference) {
  const auto& [cfg, act_order, dynamic] = GetParam();
  const uint64_t seed = test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  const auto p = test::make_gbs_problem(rng, cfg.m, cfg.n, cfg.spec, act_order, 0.1);
  const auto got = run_sweep(p, dynamic, cfg.block);
  ref::SweepOptions opt;
  opt.grid = cfg.spec;
  opt.static_groups = !dynamic;
  opt.block = cfg.block;
  const auto want = ref::gptq_quantize(p.problem(), opt, p.static_params);
  std::vector<ref::GroupParams> got_params(got.params.size() / 4);
  for (size_t i = 0; i < got_params.size(); ++i)
    got_params[i] = {got.params[i * 4], got.params[i * 4 + 1], got.params[i * 4 + 2]};
  const auto c = test::compare_rows(p, got.codes, got.deq, got.loss, want, dynamic ? &got_params : nullptr);
  std::printf("%s ao=%d dyn=%d: %zu/%u rows identical, loss rel %.2e (identical) %.2e (other), deq %.2e\n",
              cfg.name.c_str(), act_order, dynamic, c.rows_identical, p.m, c.max_loss_rel_identical,
              c.max_loss_rel_other, c.max_deq_err);
  EXPECT_TRUE(c.all_finite);
  // Codes equal the reference's, except rows where fp32 and float64 first round apart at a
  // near-tie (the symmetric grid's extreme is an exact one); those rows then follow another path.
  EXPECT_EQ(c.rows_diverged_off_tie, 0u);
  EXPECT_TRUE(test::enough_rows_identical(c, p.m)) << c.rows_identical << " of " << p.m << " rows identical";
  // Identical codes: the loss differs by fp32 rounding of the error-updated row.
  EXPECT_LE(c.max_loss_rel_identical, test::loss_tolerance(cfg.spec));
  // Same codes give the same levels up to the fp32 product scale·(q − zero) + min.
  EXPECT_LE(c.max_deq_err, 1e-6);
  if (dynamic) {
    for (float v : got.params) ASSERT_TRUE(std::isfinite(v)) << "a dynamic group's params were not written";
  }
}

// One larger problem: several full device blocks (B capped by shared memory on small devices),
// 128-column groups spanning block boundaries, act-order.
TEST(GptqSweep, LargerProblem) {
  const uint64_t seed = test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  const auto p = test::make_gbs_problem(rng, 64, 512, int_grid(4, 128, false), true, 0.1);
  for (bool dynamic : {false, true}) {
    const auto got = run_sweep(p, dynamic, 128);
    ref::SweepOptions opt;
    opt.grid = p.spec, opt.static_groups = !dynamic, opt.block = 128;
    const auto want = ref::gptq_quantize(p.problem(), opt, p.static_params);
    std::vector<ref::GroupParams> got_params(got.params.size() / 4);
    for (size_t i = 0; i < got_params.size(); ++i)
      got_params[i] = {got.params[i * 4], got.params[i * 4 + 1], got.params[i * 4 + 2]};
    const auto c = test::compare_rows(p, got.codes, got.deq, got.loss, want, dynamic ? &got_params : nullptr);
    EXPECT_TRUE(c.all_finite);
    EXPECT_EQ(c.rows_diverged_off_tie, 0u) << "dynamic=" << dynamic;
    EXPECT_TRUE(test::enough_rows_identical(c, p.m)) << "dynamic=" << dynamic;
    EXPECT_LE(c.max_loss_rel_identical, test::loss_tolerance(p.spec)) << "dynamic=" << dynamic;
  }
}

TEST(GptqSweep, DeviceBlockFitsSharedMemoryAndAlignsDynamicGroups) {
  auto& ctx = vk_context();
  kernels::GridDesc d;
  d.group = 128;
  kernels::GptqSweep sweep(ctx, d);
  const uint32_t cap = kernels::GptqSweep::max_block(ctx.probe());
  EXPECT_LE(uint64_t(cap) * (cap + 1) / 2 * 4, ctx.probe().max_shared_memory);
  EXPECT_EQ(sweep.device_block(128, 1000, false), std::min(128u, cap));
  const uint32_t dyn = sweep.device_block(128, 1000, true);
  EXPECT_TRUE(dyn % 128 == 0 || 128 % dyn == 0) << dyn;  // every group starts at a block start or inside one block
  EXPECT_EQ(kernels::aligned_block(120, 1000, 32, true), 96u);
  EXPECT_EQ(kernels::aligned_block(120, 1000, 256, true), 64u);
  EXPECT_EQ(kernels::aligned_block(120, 300, 300, true), 120u);  // one group per row: any B
  EXPECT_THROW(sweep.device_block(0, 10, false), Error);
}

std::string config_name(const testing::TestParamInfo<GptqSweepCase::ParamType>& info) {
  const auto& [cfg, ao, dyn] = info.param;
  return cfg.name + (ao ? "_actorder" : "_natural") + (dyn ? "_dynamic" : "_static");
}

INSTANTIATE_TEST_SUITE_P(Grids, GptqSweepCase,
                         testing::Combine(testing::ValuesIn(configs()), testing::Bool(), testing::Bool()), config_name);

}  // namespace
}  // namespace vkq
