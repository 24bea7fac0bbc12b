// GBS sweep (ALGORITHMS.md §4): blocking invariance, the loss identity, group bookkeeping.
// Blocked and unblocked sweeps differ only in fp64 summation order, hence 1e-10.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "reference/cholesky.hpp"
#include "reference/gptq.hpp"
#include "reference/grid.hpp"
#include "reference/objective.hpp"
#include "reference/regularize.hpp"
#include "reference/rtn.hpp"
#include "reference_fixtures.hpp"
#include "support/test_seed.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::ref {
namespace {

// T = W, H̃ = H + 0.01 μ I, U in processing order.
struct Prepared {
  size_t m = 0, n = 0;
  std::vector<double> t, h_reg, h_reg_perm, u;
  std::vector<size_t> order;
  SweepProblem problem() const {
    SweepProblem pb;
    pb.target = t.data();
    pb.rows = m;
    pb.cols = n;
    pb.u = u.data();
    pb.h_reg_perm = h_reg_perm.data();
    pb.order = order;
    return pb;
  }
};

Prepared prepare(std::mt19937_64& rng, size_t m, size_t n, bool act_order) {
  Prepared p;
  p.m = m;
  p.n = n;
  const auto c = vkq::test::correlated_calibration(rng, n, 2 * n + 8);
  const auto w = vkq::test::normal_weights(rng, m, n);
  p.t.assign(w.begin(), w.end());
  p.h_reg = regularized_gram(c.h, n, diag_mean(c.h, n), 0.01, 0, {});
  p.order.resize(n);
  std::iota(p.order.begin(), p.order.end(), size_t(0));
  if (act_order) p.order = act_order_permutation(c.h, n);
  p.h_reg_perm = permute_symmetric(p.h_reg, n, p.order);
  auto l = p.h_reg_perm;
  EXPECT_TRUE(cholesky_lower(l, n).ok);
  EXPECT_TRUE(upper_cholesky_of_inverse(l, n, p.u).ok);
  return p;
}

struct Config {
  GridSpec grid;
  size_t n;
  bool static_groups;
};

std::vector<Config> configs() {
  std::vector<Config> out;
  GridSpec g4;
  g4.bits = 4;
  g4.group = 16;
  GridSpec g3s;
  g3s.bits = 3;
  g3s.symmetric = true;
  g3s.group = 0;
  GridSpec q40;
  q40.format = GridFormat::Q4_0;
  q40.group = 32;
  GridSpec q51 = q40;
  q51.format = GridFormat::Q5_1;
  for (bool st : {true, false}) {
    out.push_back({g4, 33, st});
    out.push_back({g4, 129, st});
    out.push_back({g3s, 7, st});
  }
  out.push_back({q40, 64, true});
  out.push_back({q51, 96, true});
  return out;
}

TEST(Gptq, BlockedSweepEqualsUnblocked) {
  const uint64_t seed = vkq::test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  for (const Config& cfg : configs())
    for (bool act : {false, true}) {
      const Prepared p = prepare(rng, 6, cfg.n, act);
      SweepOptions o;
      o.grid = cfg.grid;
      o.static_groups = cfg.static_groups;
      const auto sp = cfg.static_groups ? static_group_params(p.t.data(), p.m, p.n, cfg.grid, {}, nullptr)
                                        : std::vector<GroupParams>{};
      o.block = p.n;
      const SweepResult ref = gptq_quantize(p.problem(), o, sp);
      const double tmax = vkq::test::max_abs(p.t);
      for (size_t b : {4u, 7u, 128u}) {
        SCOPED_TRACE("n=" + std::to_string(cfg.n) + " B=" + std::to_string(b) + " act=" + std::to_string(act) +
                     " static=" + std::to_string(cfg.static_groups) + " format=" + std::to_string(int(cfg.grid.format)));
        o.block = b;
        const SweepResult r = gptq_quantize(p.problem(), o, sp);
        EXPECT_EQ(r.codes, ref.codes);
        EXPECT_EQ(r.g_idx, ref.g_idx);
        EXPECT_LE(vkq::test::max_abs_diff(r.dequantized, ref.dequantized), 1e-10 * tmax);
        for (size_t i = 0; i < p.m; ++i) EXPECT_NEAR(r.row_loss[i], ref.row_loss[i], 1e-10 * ref.row_loss[i]);
        for (size_t k = 0; k < r.params.size(); ++k) {
          EXPECT_NEAR(r.params[k].scale, ref.params[k].scale, 1e-10 * std::fabs(ref.params[k].scale));
          EXPECT_EQ(r.params[k].zero, ref.params[k].zero);
        }
      }
    }
}

TEST(Gptq, RowLossEqualsTheQuadraticFormInRegularisedGram) {
  const uint64_t seed = vkq::test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  for (const Config& cfg : configs()) {
    const Prepared p = prepare(rng, 5, cfg.n, true);
    SweepOptions o;
    o.grid = cfg.grid;
    o.static_groups = cfg.static_groups;
    o.block = 7;
    const auto sp = cfg.static_groups ? static_group_params(p.t.data(), p.m, p.n, cfg.grid, {}, nullptr)
                                      : std::vector<GroupParams>{};
    const SweepResult r = gptq_quantize(p.problem(), o, sp);
    const auto direct = rows_quadratic_loss(p.t.data(), r.dequantized.data(), p.m, p.n, p.h_reg.data());
    for (size_t i = 0; i < p.m; ++i) EXPECT_NEAR(r.row_loss[i], direct[i], 1e-9 * direct[i]) << "n=" << cfg.n;
  }
}

TEST(Gptq, DequantizedMatchesCodesAndParams) {
  const uint64_t seed = vkq::test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  for (const Config& cfg : configs()) {
    const Prepared p = prepare(rng, 4, cfg.n, true);
    SweepOptions o;
    o.grid = cfg.grid;
    o.static_groups = cfg.static_groups;
    const auto sp = cfg.static_groups ? static_group_params(p.t.data(), p.m, p.n, cfg.grid, {}, nullptr)
                                      : std::vector<GroupParams>{};
    const SweepResult r = gptq_quantize(p.problem(), o, sp);
    for (size_t i = 0; i < p.m; ++i)
      for (size_t j = 0; j < p.n; ++j) {
        const GroupParams& gp = r.params[i * r.groups_per_row + r.g_idx[j]];
        ASSERT_EQ(r.dequantized[i * p.n + j], dequantize_code(r.codes[i * p.n + j], gp, cfg.grid));
      }
  }
}

TEST(Gptq, DynamicGroupsFollowProcessingOrder) {
  const uint64_t seed = vkq::test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  const size_t n = 33;
  const Prepared p = prepare(rng, 3, n, true);
  SweepOptions o;
  o.grid.bits = 4;
  o.grid.group = 8;
  o.static_groups = false;
  const SweepResult r = gptq_quantize(p.problem(), o, {});
  ASSERT_EQ(r.groups_per_row, 5u);
  std::vector<size_t> count(5, 0);
  for (size_t q = 0; q < n; ++q) {
    EXPECT_EQ(r.g_idx[p.order[q]], q / 8);
    ++count[r.g_idx[p.order[q]]];
  }
  EXPECT_EQ(count, (std::vector<size_t>{8, 8, 8, 8, 1}));
  // A clip search with the single min-max candidate is the plain dynamic sweep.
  o.clip.enabled = true;
  o.clip.candidates = 1;
  EXPECT_EQ(gptq_quantize(p.problem(), o, {}).codes, r.codes);
  // A real clip search keeps every code and loss finite.
  o.clip.candidates = 20;
  const SweepResult rc = gptq_quantize(p.problem(), o, {});
  for (double l : rc.row_loss) EXPECT_TRUE(std::isfinite(l));
}

TEST(Gptq, RejectsInconsistentProblems) {
  const uint64_t seed = vkq::test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  const Prepared p = prepare(rng, 2, 8, false);
  SweepOptions o;
  o.grid.group = 4;
  EXPECT_THROW(gptq_quantize(p.problem(), o, {}), vkq::Error);  // static groups without params
  auto pb = p.problem();
  pb.order[0] = pb.order[1];
  o.static_groups = false;
  EXPECT_THROW(gptq_quantize(pb, o, {}), vkq::Error);  // not a permutation
  o.block = 0;
  EXPECT_THROW(gptq_quantize(p.problem(), o, {}), vkq::Error);
}

}  // namespace
}  // namespace vkq::ref
