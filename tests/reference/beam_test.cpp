// Beam search (ALGORITHMS.md §4.5): K = 1 is the greedy sweep bit for bit; wider beams never lose.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "reference/beam.hpp"
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

struct Case {
  GridSpec grid;
  size_t n;
};

std::vector<Case> cases() {
  std::vector<Case> out;
  GridSpec g;
  g.bits = 3;
  g.group = 16;
  out.push_back({g, 33});
  g.bits = 2;
  g.group = 0;
  out.push_back({g, 7});
  g.bits = 4;
  g.group = 32;
  g.symmetric = true;
  out.push_back({g, 129});
  for (GridFormat f : {GridFormat::Q4_0, GridFormat::Q4_1, GridFormat::Q5_0, GridFormat::Q8_0}) {
    GridSpec q;
    q.format = f;
    q.group = 32;
    out.push_back({q, 64});
  }
  return out;
}

struct Problem {
  size_t m, n;
  std::vector<double> t, h_reg, h_perm, u;
  std::vector<size_t> order;
  SweepProblem view() const {
    SweepProblem pb;
    pb.target = t.data();
    pb.rows = m;
    pb.cols = n;
    pb.u = u.data();
    pb.h_reg_perm = h_perm.data();
    pb.order = order;
    return pb;
  }
};

Problem make_problem(std::mt19937_64& rng, size_t m, size_t n, bool act_order) {
  Problem p{m, n, {}, {}, {}, {}, {}};
  const auto c = vkq::test::correlated_calibration(rng, n, 2 * n + 8, 2, 6.0);
  const auto w = vkq::test::normal_weights(rng, m, n);
  p.t.assign(w.begin(), w.end());
  p.h_reg = regularized_gram(c.h, n, diag_mean(c.h, n), 0.01, 0, {});
  p.order.resize(n);
  std::iota(p.order.begin(), p.order.end(), size_t(0));
  if (act_order) p.order = act_order_permutation(c.h, n);
  p.h_perm = permute_symmetric(p.h_reg, n, p.order);
  auto l = p.h_perm;
  EXPECT_TRUE(cholesky_lower(l, n).ok);
  EXPECT_TRUE(upper_cholesky_of_inverse(l, n, p.u).ok);
  return p;
}

TEST(Beam, WidthOneIsExactlyTheGreedySweep) {
  const uint64_t seed = vkq::test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  for (const Case& c : cases())
    for (bool act : {false, true})
      for (size_t b : {5u, 128u}) {
        SCOPED_TRACE("n=" + std::to_string(c.n) + " format=" + std::to_string(int(c.grid.format)) + " act=" +
                     std::to_string(act) + " B=" + std::to_string(b));
        const Problem p = make_problem(rng, 6, c.n, act);
        SweepOptions o;
        o.grid = c.grid;
        o.block = b;
        const auto sp = static_group_params(p.t.data(), p.m, p.n, c.grid, {}, nullptr);
        const SweepResult g = gptq_quantize(p.view(), o, sp);
        const SweepResult k1 = beam_quantize(p.view(), o, sp, 1);
        EXPECT_EQ(k1.codes, g.codes);
        EXPECT_EQ(k1.dequantized, g.dequantized);
        EXPECT_EQ(k1.row_loss, g.row_loss);
        EXPECT_EQ(k1.g_idx, g.g_idx);
      }
}

TEST(Beam, WiderBeamNeverLosesToGreedy) {
  const uint64_t seed = vkq::test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  size_t improved = 0, rows = 0;
  for (const Case& c : cases()) {
    if (c.grid.format == GridFormat::Q8_0) continue;  // 255 levels: covered by the K = 1 test
    const Problem p = make_problem(rng, 8, c.n, true);
    SweepOptions o;
    o.grid = c.grid;
    o.block = 16;
    const auto sp = static_group_params(p.t.data(), p.m, p.n, c.grid, {}, nullptr);
    const SweepResult k1 = beam_quantize(p.view(), o, sp, 1);
    const SweepResult k4 = beam_quantize(p.view(), o, sp, 4);
    const auto direct = rows_quadratic_loss(p.t.data(), k4.dequantized.data(), p.m, p.n, p.h_reg.data());
    for (size_t i = 0; i < p.m; ++i) {
      EXPECT_LE(k4.row_loss[i], k1.row_loss[i]) << "row " << i << " n=" << c.n;
      EXPECT_NEAR(k4.row_loss[i], direct[i], 1e-9 * direct[i]);  // the beam's loss is its true loss
      improved += k4.row_loss[i] < k1.row_loss[i];
      ++rows;
    }
  }
  EXPECT_GT(improved, 0u) << "a beam of 4 never improved on greedy in " << rows << " rows";
}

TEST(Beam, WideEnoughBeamFindsTheExhaustiveOptimum) {
  const uint64_t seed = vkq::test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  const size_t n = 5, m = 4, levels = 4;  // 2-bit: 4⁵ code vectors per row
  for (bool act : {false, true}) {
    const Problem p = make_problem(rng, m, n, act);
    SweepOptions o;
    o.grid.bits = 2;
    o.grid.group = 0;
    o.block = 2;
    const auto sp = static_group_params(p.t.data(), p.m, p.n, o.grid, {}, nullptr);
    const SweepResult r = beam_quantize(p.view(), o, sp, 256);  // every prefix of length n − 1 survives
    for (size_t i = 0; i < m; ++i) {
      double best = INFINITY;
      std::vector<double> q(n);
      for (size_t code = 0; code < 1024; ++code) {
        size_t c = code;
        for (size_t j = 0; j < n; ++j, c /= levels) q[j] = dequantize_code(int32_t(c % levels), sp[i], o.grid);
        best = std::min(best, row_quadratic_loss(&p.t[i * n], q.data(), p.h_reg.data(), n));
      }
      EXPECT_NEAR(r.row_loss[i], best, 1e-10 * best) << "row " << i << " act=" << act;
    }
  }
}

TEST(Beam, NeedsStaticGroupsAndAPositiveWidth) {
  const uint64_t seed = vkq::test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  const Problem p = make_problem(rng, 2, 8, false);
  SweepOptions o;
  o.grid.group = 4;
  const auto sp = static_group_params(p.t.data(), p.m, p.n, o.grid, {}, nullptr);
  EXPECT_THROW(beam_quantize(p.view(), o, sp, 0), vkq::Error);
  o.static_groups = false;
  EXPECT_THROW(beam_quantize(p.view(), o, sp, 2), vkq::Error);
}

}  // namespace
}  // namespace vkq::ref
