#include "quant/target.hpp"

#include <cmath>
#include <string>

#include "kernels/shape_check.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::quant {

double target_coefficient(ref::AlphaMode mode, double alpha) {
  if (mode == ref::AlphaMode::sampled) return 1.0;
  if (!std::isfinite(alpha) || alpha < 0 || alpha > 1)
    throw Error("shifted target: fixed alpha = " + std::to_string(alpha) + " is outside [0, 1]");
  return alpha;
}

ShiftedTarget::ShiftedTarget(vk::Context& ctx) : ctx_(ctx), gemm_(ctx), scale_(ctx) {}
ShiftedTarget::~ShiftedTarget() = default;

void ShiftedTarget::run(vk::Stream& s, const vk::Buffer& w, const vk::Buffer& d, const vk::Buffer& u, vk::Buffer& t,
                        uint32_t m, uint32_t n, double coef, const std::vector<uint32_t>& dead_columns) {
  if (m == 0 || n == 0) return;
  if (!std::isfinite(coef)) throw Error("shifted target: coefficient " + std::to_string(coef) + " is not finite");
  kernels::require_matrix_fits("shifted_target", "W", w, 0, m, n, n, 4);
  kernels::require_matrix_fits("shifted_target", "T", t, 0, m, n, n, 4);
  if (coef != 0) {
    kernels::require_matrix_fits("shifted_target", "D", d, 0, n, n, n, 4);
    kernels::require_matrix_fits("shifted_target", "U", u, 0, n, n, n, 4);
  }
  std::vector<float> mask(n, 1.0f);
  for (uint32_t j : dead_columns) {
    if (j >= n)
      throw Error("shifted target: dead column " + std::to_string(j) + " is outside the " + std::to_string(n) +
                  " columns");
    mask[j] = 0.0f;
  }
  // Everything is checked: record nothing before this point. w == t computes in place.
  const uint64_t bytes = uint64_t(m) * n * 4;
  if (&w != &t) {
    s.copy(w, t, bytes);
    s.barrier();
  }
  kernels::ColumnScaleShape mask_shape;
  mask_shape.m = m, mask_shape.n = n;
  if (!dead_columns.empty()) {
    mask_ = vk::upload_new(ctx_, mask, "target dead-column mask");
    scale_.run(s, t, mask_, mask_shape);  // W' = W with dead columns zeroed
    s.barrier();
  }
  if (coef == 0) return;  // T = W' exactly
  if (!p_ || p_.size() < bytes) {
    p_ = vk::Buffer(ctx_, bytes, vk::MemoryUse::Device, "target W'D");
    q_ = vk::Buffer(ctx_, bytes, vk::MemoryUse::Device, "target W'DU^T");
  }
  kernels::GemmShape sh;
  sh.m = m, sh.n = n, sh.k = n;
  sh.b_kmajor = true;  // P = W' D: D stored k × n
  gemm_.run(s, t, d, p_, sh);
  s.barrier();
  sh.b_kmajor = false;  // Q = P Uᵀ: C = A Bᵀ with B = U stored n × k
  gemm_.run(s, p_, u, q_, sh);
  s.barrier();
  sh.b_kmajor = true;  // T = W' + coef · Q U
  sh.alpha = float(coef), sh.beta = 1.0f;
  gemm_.run(s, q_, u, t, sh);
  s.barrier();
  if (!dead_columns.empty()) {
    scale_.run(s, t, mask_, mask_shape);  // dead columns stay exactly zero
    s.barrier();
  }
}

}  // namespace vkq::quant
