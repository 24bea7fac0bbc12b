// ALGORITHMS.md §4 GS — activation-aware (AWQ-style) per-input-channel scale search on the device,
// the algorithm of ref::awq_scale_search: s = mean|x| with zeros floored at 1e-4·max, normalised by
// sqrt(max s · min s); for a = 0, 1/n_grid, …, (n_grid − 1)/n_grid the candidate
// Ŵ(a) = grid(W diag(s^a)) diag(s^a)⁻¹ (min-max params, kernels::Rtn) is scored by
// Σ_layers tr((Ŵ − T) H̃ (Ŵ − T)ᵀ) (a gemm and kernels::RowQuadraticForm); the smallest loss wins
// (the smallest a on ties). Everything in the ORIGINAL column order: groups are contiguous there.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "reference/layer_spec.hpp"
#include "vk/buffer.hpp"
#include "vk/context.hpp"

namespace vkq::quant {

// One layer of a set sharing an input (q/k/v, gate/up): W and the target T it is scored against
// (nullptr: T = W, the α = 0 case), both rows × n fp32 row-major on the device.
struct AwqLayerBuffers {
  const vk::Buffer* weights = nullptr;
  const vk::Buffer* target = nullptr;
  uint32_t rows = 0;
};

struct AwqSearchResult {
  std::vector<double> exponents;  // a per candidate
  std::vector<double> losses;     // Σ_layers tr((Ŵ(a) − T) H̃ (Ŵ(a) − T)ᵀ) per a (fp32 device sums, in double)
  size_t best = 0;                // index of the smallest loss (the smallest a on ties)
  double best_exponent = 0;
  double best_loss = 0;
  std::vector<double> scales;     // s^a at the best a, n entries
};

// s (n entries) from the channel statistics mean|x_j|; throws vkq::Error when none is positive or
// one is negative or non-finite.
std::vector<double> awq_channel_scales(const std::vector<double>& channel_mean_abs);

// h_reg: H̃, n × n fp32 on the device (symmetric). Runs and waits on its own stream.
AwqSearchResult awq_scale_search(vk::Context& ctx, const std::vector<AwqLayerBuffers>& layers, uint32_t n,
                                 const vk::Buffer& h_reg, const std::vector<double>& channel_mean_abs,
                                 const ref::GridSpec& spec, size_t n_grid = 20);

}  // namespace vkq::quant
