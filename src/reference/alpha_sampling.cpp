// ALGORITHMS.md §2 — seeded per-sequence α_s ~ Beta(5, 5), folded (algorithms in alpha_sampling.hpp).
#include "reference/alpha_sampling.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <string>

#include "vkquant/vkquant.hpp"

namespace vkq::ref {

uint64_t SplitMix64::next() {
  uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

double SplitMix64::uniform() { return double(next() >> 11) * 0x1.0p-53; }

double sample_normal(SplitMix64& rng) {
  const double u1 = 1.0 - rng.uniform();  // (0, 1], so the log is finite
  const double u2 = rng.uniform();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
}

double sample_gamma(SplitMix64& rng, double shape) {
  if (!(shape >= 1)) throw vkq::Error("gamma sampler: shape " + std::to_string(shape) + " < 1 is not supported");
  const double d = shape - 1.0 / 3.0, c = 1.0 / std::sqrt(9.0 * d);
  for (;;) {
    const double z = sample_normal(rng);
    const double t = 1.0 + c * z;
    if (t <= 0) continue;
    const double v = t * t * t;
    const double u = rng.uniform();
    if (u < 1.0 - 0.0331 * z * z * z * z) return d * v;  // squeeze: skips the logs most of the time
    if (u > 0 && std::log(u) < 0.5 * z * z + d * (1.0 - v + std::log(v))) return d * v;
  }
}

double sample_beta(SplitMix64& rng, double a, double b) {
  const double x = sample_gamma(rng, a);
  const double y = sample_gamma(rng, b);
  return x / (x + y);
}

std::vector<double> sample_alpha(uint64_t seed, size_t n_sequences, double beta) {
  if (!(beta >= 1) || !std::isfinite(beta))
    throw vkq::Error("sampled α: Beta parameter " + std::to_string(beta) + " must be finite and ≥ 1");
  std::vector<double> alpha(n_sequences);
  for (size_t s = 0; s < n_sequences; ++s) {
    SplitMix64 rng(seed ^ (uint64_t(s + 1) * 0x9E3779B97F4A7C15ull));  // one stream per sequence
    const double a = sample_beta(rng, beta, beta);
    alpha[s] = std::min(a, 1.0 - a);
  }
  return alpha;
}

}  // namespace vkq::ref
