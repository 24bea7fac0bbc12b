#include <string>

#include "common/float16.hpp"
#include "kernels/gram.hpp"
#include "reference/gram_ref.hpp"
#include "selftest/selftest_case.hpp"

namespace vkq::selftest {

std::vector<SelftestRow> gram_case(vk::Context& ctx, std::mt19937_64& rng) {
  struct Shape {
    uint32_t n, tokens;
    bool f16;
  };
  const Shape shapes[] = {{1, 7, false}, {129, 3000, false}, {127, 2100, true}, {64, 40000, false}};
  std::vector<SelftestRow> rows;
  for (const auto& sh : shapes) {
    SelftestRow row;
    row.kernel = "gram_accumulate";
    row.shape = "n=" + std::to_string(sh.n) + " tokens=" + std::to_string(sh.tokens) + (sh.f16 ? " f16" : " f32");
    row.metric = "max rel err";
    row.tolerance = 1e-5;  // ALGORITHMS.md §1 accuracy target over long accumulations
    // Positive-mean inputs: same-sign sums are where uncompensated fp32 drifts.
    auto x = uniform(rng, size_t(sh.n) * sh.tokens, -0.5f, 1.5f);
    if (sh.f16)
      for (auto& v : x) v = round_to_half(v);
    vk::Buffer xb;
    if (sh.f16) {
      std::vector<uint16_t> h(x.size());
      for (size_t i = 0; i < x.size(); ++i) h[i] = float_to_half(x[i]);
      xb = vk::upload_new(ctx, h, "X");
    } else {
      xb = vk::upload_new(ctx, x, "X");
    }
    kernels::GramAccumulator g(ctx, sh.n);
    auto hb = vk::upload_new(ctx, nan_filled(size_t(sh.n) * sh.n), "H");
    vk::Stream s(ctx);
    g.reset(s);
    const uint32_t t0 = s.timestamp();
    g.accumulate(s, xb, sh.tokens, sh.f16 ? kernels::ActivationType::F16 : kernels::ActivationType::F32);
    g.finalize(s, hb);
    const uint32_t t1 = s.timestamp();
    s.submit_and_wait();
    row.millis = s.elapsed_ms(t0, t1);
    ref::GramRef want(sh.n);
    want.accumulate(x.data(), sh.tokens);
    auto got = vk::download_all<float>(ctx, hb, size_t(sh.n) * sh.n);
    row.max_error = relative_error(got, want.hessian());
    const auto stats = g.channel_stats_host();
    const auto ma = want.mean_abs();
    std::vector<float> got_abs(stats.mean_abs.begin(), stats.mean_abs.end());
    row.max_error = std::max(row.max_error, relative_error(got_abs, ma));
    row.passed = row.max_error <= row.tolerance && stats.tokens == sh.tokens;
    if (!row.passed) row.message = "H or channel statistics differ from the float64 reference";
    rows.push_back(row);
  }
  return rows;
}

}  // namespace vkq::selftest
