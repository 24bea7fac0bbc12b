#include <string>

#include "kernels/gemm.hpp"
#include "reference/gemm_ref.hpp"
#include "selftest/selftest_case.hpp"

namespace vkq::selftest {

std::vector<SelftestRow> gemm_case(vk::Context& ctx, std::mt19937_64& rng) {
  struct Shape {
    uint32_t m, n, k;
    bool a_kmajor, b_kmajor;
    float beta;
  };
  const Shape shapes[] = {{1, 1, 1, false, false, 0}, {33, 127, 129, false, false, 0},
                          {129, 7, 1000, true, false, 0.5f}, {257, 200, 64, false, true, 1.0f}};
  kernels::Gemm gemm(ctx);
  std::vector<SelftestRow> rows;
  for (const auto& sh : shapes) {
    SelftestRow row;
    row.kernel = "gemm";
    row.shape = std::to_string(sh.m) + "x" + std::to_string(sh.n) + "x" + std::to_string(sh.k) +
                (sh.a_kmajor ? " At" : "") + (sh.b_kmajor ? " Bkn" : "") + (sh.beta != 0 ? " beta" : "");
    row.metric = "max rel err";
    row.tolerance = 2e-5;  // fp32 dot products of length k <= 1000 with |terms| <= 1
    auto a = uniform(rng, size_t(sh.m) * sh.k, -1, 1);
    auto b = uniform(rng, size_t(sh.n) * sh.k, -1, 1);
    auto c = sh.beta != 0 ? uniform(rng, size_t(sh.m) * sh.n, -1, 1) : nan_filled(size_t(sh.m) * sh.n);
    auto ab = vk::upload_new(ctx, a, "A");
    auto bb = vk::upload_new(ctx, b, "B");
    auto cb = vk::upload_new(ctx, c, "C");
    kernels::GemmShape gs;
    gs.m = sh.m, gs.n = sh.n, gs.k = sh.k, gs.a_kmajor = sh.a_kmajor, gs.b_kmajor = sh.b_kmajor, gs.beta = sh.beta;
    vk::Stream s(ctx);
    const uint32_t t0 = s.timestamp();
    gemm.run(s, ab, bb, cb, gs);
    const uint32_t t1 = s.timestamp();
    s.submit_and_wait();
    row.millis = s.elapsed_ms(t0, t1);
    auto got = vk::download_all<float>(ctx, cb, c.size());
    std::vector<double> want(c.begin(), c.end());
    ref::gemm_ref({sh.m, sh.n, sh.k, sh.a_kmajor, sh.b_kmajor, 1.0, sh.beta}, std::vector<double>(a.begin(), a.end()),
                  std::vector<double>(b.begin(), b.end()), want);
    row.max_error = relative_error(got, want);
    row.passed = row.max_error <= row.tolerance;
    if (!row.passed) row.message = "result differs from the float64 reference";
    rows.push_back(row);
  }
  return rows;
}

}  // namespace vkq::selftest
