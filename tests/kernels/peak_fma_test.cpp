// peak_fma vs the float64 reference: invocation counts that are not multiples of the workgroup, zero and
// many iterations, poisoned output; and a bad multiplier is refused.
#include <gtest/gtest.h>

#include "kernels/peak_fma.hpp"
#include "reference/peak_fma_ref.hpp"
#include "support/test_seed.hpp"
#include "support/vk_test_env.hpp"

namespace vkq {
namespace {

TEST(PeakFma, MatchesReference) {
  auto& ctx = test::vk_context();
  kernels::PeakFma k(ctx);
  for (const kernels::PeakFmaShape sh : {kernels::PeakFmaShape{1, 0, 0.5f, 0.25f}, kernels::PeakFmaShape{65, 3, 0.9f, -0.1f},
                                          kernels::PeakFmaShape{1000, 257, 0.999f, 0.001f}}) {
    SCOPED_TRACE(std::to_string(sh.invocations) + " invocations, " + std::to_string(sh.iterations) + " iterations");
    auto out = vk::upload_new(ctx, test::poisoned(sh.invocations + 3), "out");
    vk::Stream s(ctx);
    k.run(s, out, sh);
    s.submit_and_wait();
    const auto got = vk::download_all<float>(ctx, out, sh.invocations + 3);
    const auto want = ref::peak_fma_ref(sh.invocations, sh.iterations, sh.a, sh.b, kernels::PeakFma::kChains);
    // Worst case: one fp32 rounding (6e-8 of |x|) per step, 257 steps, 8 values summed; measured ~5e-6.
    EXPECT_LT(test::max_rel_error(std::vector<float>(got.begin(), got.begin() + sh.invocations), want), 3e-5);
    for (uint32_t i = sh.invocations; i < sh.invocations + 3; ++i) EXPECT_TRUE(std::isnan(got[i])) << "wrote past the end";
  }
  EXPECT_DOUBLE_EQ(kernels::PeakFma::flops({1000, 257}), 8.0 * 2 * 1000 * 257);
}

TEST(PeakFma, RejectsAMultiplierThatDiverges) {
  auto& ctx = test::vk_context();
  kernels::PeakFma k(ctx);
  vk::Buffer out(ctx, 64 * 4, vk::MemoryUse::Device, "out");
  vk::Stream s(ctx);
  EXPECT_THROW(k.run(s, out, {16, 10, 1.5f, 0.0f}), Error);
}

}  // namespace
}  // namespace vkq
