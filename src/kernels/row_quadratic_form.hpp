// Host wrapper of shaders/row_quadratic_form.comp: r_i = Σ_j G[i][j] E[i][j] per row. With
// E = Q − T and G = E H̃ (kernels::Gemm) this is the per-row objective (t − q) H̃ (t − q)ᵀ of
// ALGORITHMS.md §2, summed by the AWQ scale search (§4 GS).
#pragma once

#include <cstdint>
#include <memory>

#include "vk/buffer.hpp"
#include "vk/context.hpp"
#include "vk/kernel.hpp"
#include "vk/stream.hpp"

namespace vkq::kernels {

struct RowDotShape {
  uint32_t m = 0, n = 0;
  uint32_t ldg = 0, lde = 0;  // 0: packed (n)
  uint64_t r_offset = 0;      // first output element
};

class RowQuadraticForm {
 public:
  explicit RowQuadraticForm(vk::Context& ctx);
  ~RowQuadraticForm();
  // r[r_offset + i] = Σ_j g[i][j] e[i][j], i < m (fp32).
  void run(vk::Stream& s, const vk::Buffer& g, const vk::Buffer& e, vk::Buffer& r, const RowDotShape& shape);

 private:
  vk::Context& ctx_;
  std::unique_ptr<vk::Kernel> kernel_;
};

}  // namespace vkq::kernels
