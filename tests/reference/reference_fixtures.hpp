// Inputs shared by the reference suites: correlated calibration statistics with outlier channels
// (where error feedback pays off), random weights, and an independent SPD matrix.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <random>
#include <vector>

#include "support/test_seed.hpp"

namespace vkq::test {

struct Calibration {
  size_t n = 0;
  std::vector<double> h;         // (2/N) X Xᵀ
  std::vector<double> d;         // (2/N) ΔX Xᵀ
  std::vector<double> mean_abs;  // mean_t |x_j|
};

// X = M Z + 0.3 E with a low-rank M (strongly correlated channels); `outliers` channels scaled by `gain`.
inline Calibration correlated_calibration(std::mt19937_64& rng, size_t n, size_t tokens, size_t outliers = 2,
                                          double gain = 8.0) {
  std::normal_distribution<double> nd(0.0, 1.0);
  const size_t r = n / 4 + 1;
  std::vector<double> mix(n * r), x(n * tokens), dx(n * tokens);
  for (auto& v : mix) v = nd(rng) / std::sqrt(double(r));
  std::vector<double> z(r);
  for (size_t t = 0; t < tokens; ++t) {
    for (auto& v : z) v = nd(rng);
    for (size_t j = 0; j < n; ++j) {
      double s = 0.3 * nd(rng);
      for (size_t k = 0; k < r; ++k) s += mix[j * r + k] * z[k];
      x[j * tokens + t] = s;
      dx[j * tokens + t] = 0.1 * nd(rng) + 0.05 * s;
    }
  }
  std::vector<size_t> channels(n);
  for (size_t j = 0; j < n; ++j) channels[j] = j;
  std::shuffle(channels.begin(), channels.end(), rng);
  for (size_t o = 0; o < outliers && o < n && n > 1; ++o)  // distinct channels
    for (size_t t = 0; t < tokens; ++t) x[channels[o] * tokens + t] *= gain;
  Calibration c;
  c.n = n;
  c.h.assign(n * n, 0.0);
  c.d.assign(n * n, 0.0);
  c.mean_abs.assign(n, 0.0);
  const double scale = 2.0 / double(tokens);
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j < n; ++j) {
      double sh = 0, sd = 0;
      for (size_t t = 0; t < tokens; ++t) {
        sh += x[i * tokens + t] * x[j * tokens + t];
        sd += dx[i * tokens + t] * x[j * tokens + t];
      }
      c.h[i * n + j] = scale * sh;
      c.d[i * n + j] = scale * sd;
    }
    for (size_t t = 0; t < tokens; ++t) c.mean_abs[i] += std::fabs(x[i * tokens + t]);
    c.mean_abs[i] /= double(tokens);
  }
  return c;
}

inline std::vector<float> normal_weights(std::mt19937_64& rng, size_t m, size_t n, double sigma = 0.05) {
  std::normal_distribution<double> nd(0.0, sigma);
  std::vector<float> w(m * n);
  for (auto& v : w) v = float(nd(rng));
  return w;
}

// A Aᵀ + n·I for a random A: well conditioned, positive definite.
inline std::vector<double> random_spd(std::mt19937_64& rng, size_t n) {
  std::normal_distribution<double> nd(0.0, 1.0);
  std::vector<double> a(n * n), h(n * n, 0.0);
  for (auto& v : a) v = nd(rng);
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < n; ++j) {
      double s = 0;
      for (size_t k = 0; k < n; ++k) s += a[i * n + k] * a[j * n + k];
      h[i * n + j] = s + (i == j ? double(n) : 0.0);
    }
  return h;
}

inline double max_abs_diff(const std::vector<double>& a, const std::vector<double>& b) {
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
  return m;
}

inline double max_abs(const std::vector<double>& a) {
  double m = 0;
  for (double v : a) m = std::max(m, std::fabs(v));
  return m;
}

}  // namespace vkq::test
