// ALGORITHMS.md §2 — regularised Gram H̃ and shifted target T; §4.1 dead columns.
#include "reference/regularize.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "reference/cholesky.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::ref {

std::vector<size_t> fix_dead_columns(std::vector<double>& gram, size_t n) {
  std::vector<size_t> dead;
  for (size_t j = 0; j < n; ++j)
    if (gram[j * n + j] == 0) {
      gram[j * n + j] = 1;
      dead.push_back(j);
    }
  return dead;
}

void zero_columns(std::vector<double>& a, size_t rows, size_t cols, const std::vector<size_t>& columns) {
  for (size_t i = 0; i < rows; ++i)
    for (size_t j : columns) a[i * cols + j] = 0;
}

double diag_mean(const std::vector<double>& gram, size_t n) {
  double s = 0;
  for (size_t j = 0; j < n; ++j) s += gram[j * n + j];
  return s / double(n);
}

std::vector<double> saliency_weights(Saliency kind, const std::vector<double>& gram, size_t n,
                                     const std::vector<double>& channel_mean_abs) {
  std::vector<double> s(n, 1.0);
  if (kind == Saliency::act || kind == Saliency::act2) {
    if (channel_mean_abs.size() != n)
      throw vkq::Error("saliency act/act2 needs mean|x| per channel: got " + std::to_string(channel_mean_abs.size()) +
                       " values for " + std::to_string(n) + " channels");
    for (size_t j = 0; j < n; ++j) {
      const double a = channel_mean_abs[j];
      if (!std::isfinite(a) || a < 0)
        throw vkq::Error("saliency: mean|x| of channel " + std::to_string(j) + " is " + std::to_string(a));
      s[j] = kind == Saliency::act ? a : a * a;
    }
  } else if (kind == Saliency::hdiag) {
    for (size_t j = 0; j < n; ++j) s[j] = gram[j * n + j];
  }
  const double mean = std::accumulate(s.begin(), s.end(), 0.0) / double(n);
  if (!(mean > 0) || !std::isfinite(mean))
    throw vkq::Error("saliency: mean(s) = " + std::to_string(mean) + ", cannot normalise (every channel has zero saliency?)");
  for (double& v : s) v /= mean;
  return s;
}

std::vector<double> regularized_gram(const std::vector<double>& gram, size_t n, double mu, double delta,
                                     double lambda, const std::vector<double>& shat) {
  if (lambda != 0 && shat.size() != n)
    throw vkq::Error("regulariser: λ = " + std::to_string(lambda) + " needs ŝ with " + std::to_string(n) + " entries");
  std::vector<double> h = gram;
  for (size_t j = 0; j < n; ++j) h[j * n + j] += mu * (delta + (lambda != 0 ? lambda * shat[j] : 0.0));
  return h;
}

std::vector<double> permute_symmetric(const std::vector<double>& a, size_t n, const std::vector<size_t>& order) {
  std::vector<double> out(n * n);
  for (size_t p = 0; p < n; ++p)
    for (size_t q = 0; q < n; ++q) out[p * n + q] = a[order[p] * n + order[q]];
  return out;
}

std::vector<size_t> act_order_permutation(const std::vector<double>& gram, size_t n) {
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t(0));
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return gram[a * n + a] > gram[b * n + b]; });
  return order;
}

std::vector<double> shifted_target(const std::vector<double>& w, size_t m, size_t n,
                                   const std::vector<double>& cross_gram, double coef,
                                   const std::vector<double>& l_perm, const std::vector<size_t>& order) {
  if (cross_gram.size() != n * n)
    throw vkq::Error("shifted target: D has " + std::to_string(cross_gram.size()) + " entries, expected n² = " +
                     std::to_string(n * n));
  std::vector<double> t = w;
  std::vector<double> x(n), xp(n);
  for (size_t i = 0; i < m; ++i) {
    const double* wr = &w[i * n];
    std::fill(x.begin(), x.end(), 0.0);
    for (size_t k = 0; k < n; ++k) {  // x = w D (row vector)
      if (wr[k] == 0) continue;
      const double* dk = &cross_gram[k * n];
      for (size_t j = 0; j < n; ++j) x[j] += wr[k] * dk[j];
    }
    // z = x H̃⁻¹ ⇔ H̃ zᵀ = xᵀ (H̃ symmetric), solved in processing order.
    for (size_t p = 0; p < n; ++p) xp[p] = x[order[p]];
    cholesky_solve(l_perm, n, xp.data());
    for (size_t p = 0; p < n; ++p) t[i * n + order[p]] += coef * xp[p];
  }
  return t;
}

}  // namespace vkq::ref
