// ALGORITHMS.md §2–§5 — one layer solve, float64 reference: dead columns, H̃ with damping
// escalation, shifted target T, then RTN, GPTQ (GBS) or beam search on (T, H̃).
// The Vulkan implementation takes the same LayerQuantOptions and returns the same LayerQuantResult.
#pragma once

#include <cstddef>
#include <vector>

#include "reference/layer_spec.hpp"

namespace vkq::ref {

// weights: W, rows × cols (m × n) row-major; gram: H, n × n; cross_gram: D, n × n or empty (α = 0);
// channel_mean_abs: mean|x_j|, n entries or empty (needed by saliency act/act2 with λ > 0).
// Throws vkq::Error naming the problem on bad shapes, non-finite inputs or inconsistent options.
// SNRQ's closed-form α* of a solved layer: ⟨Q − W, W D⟩ / ⟨W D H̃⁻¹, W D⟩ (Frobenius products), with
// W D H̃⁻¹ = (T − W)/coef read off the shifted target T = W + coef·W D H̃⁻¹, clipped to [0, 1]; −1 when
// the denominator is not positive. W and D with the dead columns zeroed, as the solve used them.
double closed_form_alpha(const std::vector<double>& w, const std::vector<double>& q, const std::vector<double>& t,
                         const std::vector<double>& d, size_t m, size_t n, double coef);

LayerQuantResult quantize_layer(const std::vector<float>& weights, size_t rows, size_t cols,
                                const std::vector<double>& gram, const LayerQuantOptions& options,
                                const std::vector<double>& cross_gram = {},
                                const std::vector<double>& channel_mean_abs = {});

// The same with fp32 statistics, as the GPU accumulates them (widened to float64 first).
LayerQuantResult quantize_layer(const std::vector<float>& weights, size_t rows, size_t cols,
                                const std::vector<float>& gram, const LayerQuantOptions& options,
                                const std::vector<float>& cross_gram = {},
                                const std::vector<float>& channel_mean_abs = {});

}  // namespace vkq::ref
