// Selftest rows of the regularised Gram and its factorisation (ALGORITHMS.md §2, §4.3):
// regularize_gram (act-order, λ), the blocked Cholesky L and U = chol(H̃⁻¹)ᵀ vs float64.
#include <cmath>
#include <numeric>
#include <string>

#include "kernels/cholesky.hpp"
#include "kernels/regularize_gram.hpp"
#include "reference/cholesky.hpp"
#include "reference/regularize.hpp"
#include "selftest/selftest_case.hpp"

namespace vkq::selftest {

namespace {

// (1/m) XᵀX over m = n/2 + 1 tokens (rank-deficient, as with few calibration tokens), fp32.
std::vector<float> random_gram(std::mt19937_64& rng, uint32_t n) {
  const uint32_t m = n / 2 + 1;
  const auto x = uniform(rng, size_t(m) * n, -1, 1);
  std::vector<float> h(size_t(n) * n);
  for (uint32_t i = 0; i < n; ++i)
    for (uint32_t j = 0; j <= i; ++j) {
      double s = 0;
      for (uint32_t t = 0; t < m; ++t) s += double(x[size_t(t) * n + i]) * x[size_t(t) * n + j];
      h[size_t(i) * n + j] = h[size_t(j) * n + i] = float(s / m);
    }
  return h;
}

double norm1(const std::vector<double>& a, uint32_t n) {
  double best = 0;
  for (uint32_t j = 0; j < n; ++j) {
    double s = 0;
    for (uint32_t i = 0; i < n; ++i) s += std::abs(a[size_t(i) * n + j]);
    best = std::max(best, s);
  }
  return best;
}

}  // namespace

std::vector<SelftestRow> cholesky_case(vk::Context& ctx, std::mt19937_64& rng) {
  std::vector<SelftestRow> rows;
  kernels::RegularizeGram reg(ctx);
  kernels::Cholesky chol(ctx);
  for (const uint32_t n : {7u, 129u, 300u}) {
    const auto h = random_gram(rng, n);
    // Reference H̃ at δ = 0.01, λ = 0.1 (hdiag saliency), act-order, as reference/layer_quant.cpp.
    std::vector<double> hd(h.begin(), h.end());
    ref::fix_dead_columns(hd, n);
    const double mu = ref::diag_mean(hd, n);
    const auto shat = ref::saliency_weights(ref::Saliency::hdiag, hd, n, {});
    const auto order = ref::act_order_permutation(hd, n);
    const auto h_reg = ref::permute_symmetric(ref::regularized_gram(hd, n, mu, 0.01, 0.1, shat), n, order);
    auto l_ref = h_reg;
    ref::cholesky_lower(l_ref, n);
    std::vector<double> u_ref;
    ref::upper_cholesky_of_inverse(l_ref, n, u_ref);
    const double kappa = norm1(h_reg, n) * norm1(ref::cholesky_inverse(l_ref, n), n);
    // fp32 triangular factors carry errors ~ε·√κ (their condition is ≈ √κ(H̃)); 16× margin.
    const double factor_tol = std::max(1e-6, 16 * 1.1920929e-7 * std::sqrt(kappa));
    const std::string shape = "n=" + std::to_string(n) + " kappa=" + std::to_string(int64_t(kappa));

    auto hb = vk::upload_new(ctx, h, "H");
    auto hr = vk::upload_new(ctx, nan_filled(size_t(n) * n), "H̃");
    auto work = vk::upload_new(ctx, nan_filled(size_t(n) * n), "work");
    auto ub = vk::upload_new(ctx, nan_filled(size_t(n) * n), "U");
    vk::Stream s(ctx);
    kernels::RegularizeOptions ro;
    ro.lambda = 0.1, ro.saliency = ref::Saliency::hdiag, ro.act_order = true;
    const auto plan = kernels::plan_regularization(reg.diagonal(s, hb, n), ro);
    const auto in = kernels::upload_regularization(ctx, plan, 0.01);
    const uint32_t t0 = s.timestamp();
    reg.run(s, hb, in, hr);
    s.barrier();
    const uint32_t t1 = s.timestamp();
    s.copy(hr, work, uint64_t(n) * n * 4);
    s.barrier();
    chol.factor(s, work, n);
    const uint32_t t2 = s.timestamp();
    s.submit_and_wait();
    const bool factored = chol.status().ok;
    const auto l = vk::download_all<float>(ctx, work, size_t(n) * n);
    const double ms_reg = s.elapsed_ms(t0, t1), ms_chol = s.elapsed_ms(t1, t2);
    s.copy(hr, work, uint64_t(n) * n * 4);
    s.barrier();
    const uint32_t t3 = s.timestamp();
    chol.upper_factor_of_inverse(s, work, ub, n);
    const uint32_t t4 = s.timestamp();
    s.submit_and_wait();
    const bool inverted = chol.status().ok;

    // Gather plus one fp32 rounding of the float64 diagonal: one fp32 ulp.
    SelftestRow r1{"regularize_gram", shape + " act-order lambda=0.1", 0, 1.2e-7, "max rel err", ms_reg};
    r1.max_error = relative_error(vk::download_all<float>(ctx, hr, size_t(n) * n), h_reg);
    r1.passed = r1.max_error <= r1.tolerance;
    if (!r1.passed) r1.message = "H̃ differs from the float64 reference";
    rows.push_back(r1);

    SelftestRow r2{"cholesky", shape, 0, factor_tol, "max rel err", ms_chol};
    r2.max_error = factored ? relative_error(l, l_ref) : INFINITY;
    r2.passed = r2.max_error <= r2.tolerance;
    if (!r2.passed) r2.message = factored ? "L differs from the float64 reference" : "reported a failed pivot";
    rows.push_back(r2);

    SelftestRow r3{"cholesky_inverse_upper", shape, 0, factor_tol, "max rel err", s.elapsed_ms(t3, t4)};
    r3.max_error = inverted ? relative_error(vk::download_all<float>(ctx, ub, size_t(n) * n), u_ref) : INFINITY;
    r3.passed = r3.max_error <= r3.tolerance;
    if (!r3.passed) r3.message = inverted ? "U differs from the float64 reference" : "reported a failed pivot";
    rows.push_back(r3);
  }
  return rows;
}

}  // namespace vkq::selftest
