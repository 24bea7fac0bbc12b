// ALGORITHMS.md §2 and §4.3 on the device: the regularised Gram H̃ = H + μ(δI + λ diag ŝ) in
// processing order and U with UᵀU = H̃⁻¹, escalating the damping δ ×10 (δ = 0 → 0.001) up to
// 6 times when the factorisation fails, exactly as reference/cholesky.cpp factor_with_damping.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "reference/layer_spec.hpp"
#include "vk/buffer.hpp"
#include "vk/context.hpp"

namespace vkq::kernels {
class Cholesky;
class RegularizeGram;
}  // namespace vkq::kernels

namespace vkq::quant {

struct HessianOptions {
  double damp = 0.01;                            // δ, relative to μ = mean(diag H)
  double lambda = 0;                             // λ, SARQC strength relative to μ
  ref::Saliency saliency = ref::Saliency::unit;
  std::vector<double> channel_mean_abs;          // mean|x_j| per channel (saliency act / act2)
  bool act_order = true;                         // process by descending H_jj (stable)
  std::string label;                             // layer name for messages ("" = none)
};

struct PreparedHessian {
  uint32_t n = 0;
  vk::Buffer h_reg;                   // H̃ (n x n fp32), processing order
  vk::Buffer u;                       // U upper triangular, UᵀU = H̃⁻¹, processing order
  std::vector<uint32_t> order;        // position p holds original column order[p]
  std::vector<uint32_t> dead;         // original columns with H_jj = 0 (set to 1)
  double mu = 0;                      // mean of the dead-fixed diagonal
  double delta = 0;                   // damping that succeeded
  std::vector<std::string> retries;   // one message per failed attempt
};

// Keeps the pipelines of regularize_gram and the Cholesky family across layers.
class HessianFactorizer {
 public:
  explicit HessianFactorizer(vk::Context& ctx);
  ~HessianFactorizer();
  // `h` holds the n x n fp32 Gram H (left unchanged). Throws vkq::Error naming the layer when
  // every damping fails; never returns a non-finite U.
  PreparedHessian prepare(const vk::Buffer& h, uint32_t n, const HessianOptions& options);

 private:
  vk::Context& ctx_;
  std::unique_ptr<kernels::RegularizeGram> reg_;
  std::unique_ptr<kernels::Cholesky> chol_;
};

// One-off form of HessianFactorizer::prepare.
PreparedHessian prepare_hessian(vk::Context& ctx, const vk::Buffer& h, uint32_t n, const HessianOptions& options);

}  // namespace vkq::quant
