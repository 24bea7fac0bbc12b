// ALGORITHMS.md §3 "scale/clip search" and §4 "GS" — per-group clip search and AWQ-style
// per-input-channel scale search, float64 reference.
#pragma once

#include <cstddef>
#include <vector>

#include "reference/layer_spec.hpp"

namespace vkq::ref {

// Throws vkq::Error unless candidates ≥ 1, step ≥ 0 and every shrink factor 1 − c·step > 0.
void validate_clip(const ClipOptions& clip);

// Loss of one candidate for a group: Δ = t − ŵ(params), scored Δᵀ H_gg Δ (full_block; h is the
// g × g block with leading dimension ld) or Σ_j H_jj Δ_j² (diagonal).
double clip_candidate_loss(const double* t, size_t g, const double* h, size_t ld, const GridSpec& spec,
                           const GroupParams& params, ClipScore score);

// Least-squares refit of a group's parameters to the codes `p` gives t: the scale s of ŵ = s·(q − zero)
// (and, for Q4_1/Q5_1, the min m of ŵ = s·q + m) minimising (t − ŵ)ᵀ H_gg (t − ŵ) (full_block) or
// Σ_j H_jj (t − ŵ)_j² (diagonal), stored as the format stores them. False (and `out` untouched) when
// the system is singular, the fit flips the sign of the scale or does not fit the stored type.
bool refit_group_params(const double* t, size_t g, const double* h, size_t ld, const GridSpec& spec,
                        const GroupParams& p, ClipScore score, GroupParams& out);

// Best of the candidates, in this order: scale·(1 − c·step), c = 0 … candidates − 1, then
// scale·(1 + e·step), e = 1 … expand (the range scaled about 0); with `about_min` and Q4_1/Q5_1, then
// the range scaled about the group's min (min kept, max = min + f·(max − min)) for f = 1 − c·step,
// c = 1 … candidates − 1, and f = 1 + e·step; with `refit`, each candidate followed by its refit. The
// first on ties, so the min-max params win unless another candidate is strictly better.
GroupParams clip_search_group(const double* t, size_t g, const double* h, size_t ld, const GridSpec& spec,
                              const ClipOptions& clip);

// Per (row, group) of an m × n target with groups contiguous in column order; h_reg is n × n H̃.
std::vector<GroupParams> clip_search_params(const double* target, size_t m, size_t n, const double* h_reg,
                                            const GridSpec& spec, const ClipOptions& clip);

// One layer of a set sharing an input: W (scaled, then quantized) and the target T it is scored
// against (T = W when α = 0; nullptr means T = W).
struct AwqLayer {
  const double* weights = nullptr;
  const double* target = nullptr;
  size_t rows = 0;
};

struct AwqResult {
  std::vector<double> exponents;  // a = 0, 1/n_grid, …, (n_grid − 1)/n_grid
  std::vector<double> losses;     // Σ_layers tr((Ŵ(a) − T) H̃ (Ŵ(a) − T)ᵀ) per a
  size_t best = 0;                // index of the smallest loss (the smallest a on ties)
  double best_exponent = 0;
  double best_loss = 0;
  std::vector<double> scales;     // s^a at the best a, n entries
};

// s = mean|x| with zeros floored at 1e-4·max (a dead channel must not get scale 0), normalised
// by sqrt(max s · min s) so scales straddle 1.
std::vector<double> awq_channel_scales(const std::vector<double>& channel_mean_abs);

// Ŵ(a) = grid(W diag(s^a)) diag(s^a)⁻¹ with min-max params, for a on the grid above.
AwqResult awq_scale_search(const std::vector<AwqLayer>& layers, size_t n, const std::vector<double>& h_reg,
                           const std::vector<double>& channel_mean_abs, const GridSpec& spec, size_t n_grid = 20);

}  // namespace vkq::ref
