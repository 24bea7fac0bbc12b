// rms_norm vs the float64 reference, both forms (a workgroup per row, a lane per row): awkward widths,
// more rows than a workgroup of lanes holds, strided rows with offsets, poisoned output.
#include <gtest/gtest.h>

#include <random>

#include "kernels/rms_norm.hpp"
#include "reference/rms_norm_ref.hpp"
#include "support/test_seed.hpp"
#include "support/vk_test_env.hpp"

namespace vkq {
namespace {

struct Case {
  uint32_t rows, cols, x_off, x_stride, y_off, y_stride;
  float eps;
};

class RmsNormShapes : public testing::TestWithParam<Case> {};

TEST_P(RmsNormShapes, MatchesReference) {
  const Case c = GetParam();
  const uint64_t seed = test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  auto& ctx = test::vk_context();
  const uint32_t xs = c.x_stride ? c.x_stride : c.cols, ys = c.y_stride ? c.y_stride : c.cols;
  auto x = test::random_floats(rng, c.x_off + size_t(c.rows) * xs, -2, 2);
  auto w = test::random_floats(rng, c.cols, 0.5f, 1.5f);
  auto xb = vk::upload_new(ctx, x, "x");
  auto wb = vk::upload_new(ctx, w, "w");
  std::vector<double> xd(size_t(c.rows) * c.cols);
  for (uint32_t r = 0; r < c.rows; ++r)
    for (uint32_t j = 0; j < c.cols; ++j) xd[size_t(r) * c.cols + j] = x[c.x_off + size_t(r) * xs + j];
  const auto want = ref::rms_norm_ref(xd, std::vector<double>(w.begin(), w.end()), c.rows, c.cols, c.eps);
  for (auto form : {kernels::RowForm::WorkgroupPerRow, kernels::RowForm::LanePerRow}) {
    SCOPED_TRACE(form == kernels::RowForm::LanePerRow ? "lane per row" : "workgroup per row");
    auto yb = vk::upload_new(ctx, test::poisoned(c.y_off + size_t(c.rows) * ys), "y");
    kernels::RmsNorm k(ctx, form);
    vk::Stream s(ctx);
    k.run(s, xb, wb, yb, {c.rows, c.cols, c.x_off, c.x_stride, c.y_off, c.y_stride, c.eps});
    s.submit_and_wait();
    auto y = vk::download_all<float>(ctx, yb, c.y_off + size_t(c.rows) * ys);
    std::vector<float> got(xd.size());
    for (uint32_t r = 0; r < c.rows; ++r)
      for (uint32_t j = 0; j < c.cols; ++j) got[size_t(r) * c.cols + j] = y[c.y_off + size_t(r) * ys + j];
    // fp32 sum of <= 4097 squares and one rsqrt: a few ulps of the largest output.
    EXPECT_LT(test::max_rel_error(got, want), 2e-6);
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, RmsNormShapes,
                         testing::Values(Case{1, 1, 0, 0, 0, 0, 1e-5f}, Case{7, 33, 0, 0, 0, 0, 1e-5f},
                                         Case{33, 127, 5, 130, 3, 129, 1e-6f}, Case{129, 1000, 0, 0, 0, 0, 1e-5f},
                                         Case{3, 4097, 0, 0, 0, 0, 0.0f}));

TEST(RmsNorm, RejectsTooSmallBuffer) {
  auto& ctx = test::vk_context();
  vk::Buffer x(ctx, 4 * 10, vk::MemoryUse::Device, "x"), w(ctx, 4 * 10, vk::MemoryUse::Device, "w"),
      y(ctx, 4 * 5, vk::MemoryUse::Device, "y small");
  kernels::RmsNorm k(ctx);
  vk::Stream s(ctx);
  EXPECT_THROW(k.run(s, x, w, y, {1, 10, 0, 0, 0, 0, 1e-5f}), Error);
}

}  // namespace
}  // namespace vkq
