// ALGORITHMS.md §2 shifted target T = W + coef · W D H̃⁻¹ on the device, with kernels::Gemm only
// (plus the column mask of §4 GBS step 1). H̃⁻¹ = Uᵀ U with U the upper Cholesky factor of H̃⁻¹, so
// T = W + coef · ((W D) Uᵀ) U: three gemms. coef = α for AlphaMode::fixed, 1 for sampled (D then
// already carries the per-sequence α_s, see kernels::CrossGramAccumulator::accumulate's weight).
// Dead columns: W[:, j] = 0 before the shift and T[:, j] = 0 after it, as ref layer_quant does
// (D[:, j] of a dead column is already exactly 0: X_q[·][j] is all zero).
// Any one column order works if every operand uses it: with U from quant::HessianFactorizer
// (processing order P), pass W Pᵀ and P D Pᵀ, dead columns as processing positions, and T comes out
// in processing order (T Pᵀ = W Pᵀ + coef (W Pᵀ)(P D Pᵀ)(P H̃⁻¹ Pᵀ)).
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/gemm.hpp"
#include "kernels/scale_columns.hpp"
#include "reference/layer_spec.hpp"
#include "vk/buffer.hpp"
#include "vk/context.hpp"
#include "vk/stream.hpp"

namespace vkq::quant {

// α (fixed) or 1 (sampled); throws vkq::Error for a fixed α outside [0, 1] or non-finite.
double target_coefficient(ref::AlphaMode mode, double alpha);

class ShiftedTarget {
 public:
  explicit ShiftedTarget(vk::Context& ctx);
  ~ShiftedTarget();
  // t (m × n) = W' + coef · ((W' D) Uᵀ) U with W' = w with the dead columns zeroed, then
  // t[:, dead] = 0. w, t: m × n; d, u: n × n; all fp32 row-major. coef = 0 copies W' (d and u are
  // not read and may be empty buffers); w and t may be the same buffer (in place). The scratch and mask buffers belong to this object: submit
  // `s` before the next run() or before destroying it.
  void run(vk::Stream& s, const vk::Buffer& w, const vk::Buffer& d, const vk::Buffer& u, vk::Buffer& t, uint32_t m,
           uint32_t n, double coef, const std::vector<uint32_t>& dead_columns = {});

 private:
  vk::Context& ctx_;
  kernels::Gemm gemm_;
  kernels::ColumnScale scale_;
  vk::Buffer p_, q_, mask_;  // W'D, (W'D)Uᵀ, dead-column 0/1 mask
};

}  // namespace vkq::quant
