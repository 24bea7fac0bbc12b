// ALGORITHMS.md §2 "sampled α" — α_s ~ Beta(5, 5) per calibration sequence, folded to
// min(α, 1 − α). Fully specified so GPU code and other platforms reproduce it bit for bit:
// - generator: SplitMix64 (Vigna); uniform u = (next() >> 11)·2⁻⁵³ in [0, 1);
// - sequence s draws from its own stream, state₀ = seed ⊕ ((s + 1)·0x9E3779B97F4A7C15);
// - normal: Box–Muller cosine branch, z = sqrt(−2 ln(1 − u₁))·cos(2π u₂) (the sine is discarded);
// - Gamma(a ≥ 1): Marsaglia–Tsang (2000) with d = a − 1/3, c = 1/sqrt(9d), draw z then u;
// - Beta(a, b) = X / (X + Y) with X ~ Gamma(a) drawn before Y ~ Gamma(b).
// The integer stream is exact everywhere; the doubles are too wherever log and cos are
// correctly rounded (otherwise they may differ in the last bit between math libraries).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace vkq::ref {

class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t state) : state_(state) {}
  uint64_t next();
  double uniform();  // [0, 1), 53 random bits

 private:
  uint64_t state_;
};

double sample_normal(SplitMix64& rng);
double sample_gamma(SplitMix64& rng, double shape);  // shape ≥ 1
double sample_beta(SplitMix64& rng, double a, double b);

// α_s for sequences s = 0 … n_sequences − 1, each in [0, 0.5]: Beta(beta, beta) folded (beta ≥ 1; 5 is
// ALGORITHMS.md's, mean ≈ 0.38; 1 is uniform, mean 0.25; larger beta concentrates α near 0.5).
std::vector<double> sample_alpha(uint64_t seed, size_t n_sequences, double beta = 5.0);

}  // namespace vkq::ref
