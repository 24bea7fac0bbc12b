// Host wrapper of shaders/scale_columns.comp: in-place per-column scaling A ← A ∘ s (or A ⊘ s),
// optionally minus B — the W diag(s^a) and Ŵ diag(s^a)⁻¹ − T of the AWQ search (ALGORITHMS.md §4
// GS) and the dead-column mask of T (§4 GBS step 1; a zero multiplier writes an exact 0).
#pragma once

#include <cstdint>
#include <memory>

#include "vk/buffer.hpp"
#include "vk/context.hpp"
#include "vk/kernel.hpp"
#include "vk/stream.hpp"

namespace vkq::kernels {

struct ColumnScaleShape {
  uint32_t m = 0, n = 0;                 // A is m × n
  uint32_t lda = 0, ldb = 0;             // 0: packed (n)
  uint64_t a_offset = 0, b_offset = 0;   // in elements
  bool divide = false;                   // A[i][j] / s_j instead of A[i][j] · s_j
};

class ColumnScale {
 public:
  explicit ColumnScale(vk::Context& ctx);
  ~ColumnScale();
  // A[i][j] = A[i][j] op s[j]; s has n fp32 entries.
  void run(vk::Stream& s, vk::Buffer& a, const vk::Buffer& scales, const ColumnScaleShape& shape);
  // A[i][j] = (A[i][j] op s[j]) − B[i][j].
  void run_minus(vk::Stream& s, vk::Buffer& a, const vk::Buffer& scales, const vk::Buffer& b,
                 const ColumnScaleShape& shape);

 private:
  void dispatch(vk::Stream& s, vk::Buffer& a, const vk::Buffer& scales, const vk::Buffer* b,
                const ColumnScaleShape& shape);
  vk::Context& ctx_;
  std::unique_ptr<vk::Kernel> kernels_[4];  // by (divide, subtract)
};

}  // namespace vkq::kernels
