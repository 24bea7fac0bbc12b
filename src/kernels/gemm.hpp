// Host wrapper of shaders/gemm.comp: C = alpha * op(A) * op(B)^T + beta * C in fp32.
// Serves the forward pass, the GPTQ tail update and the scale search.
#pragma once

#include <cstdint>
#include <memory>

#include "vk/buffer.hpp"
#include "vk/context.hpp"
#include "vk/kernel.hpp"
#include "vk/stream.hpp"

namespace vkq::kernels {

struct GemmShape {
  uint32_t m = 0, n = 0, k = 0;
  bool a_kmajor = false;  // A stored k x m (else m x k)
  bool b_kmajor = false;  // B stored k x n (else n x k)
  uint32_t lda = 0, ldb = 0, ldc = 0;  // 0: packed (the stored row length)
  uint64_t a_offset = 0, b_offset = 0, c_offset = 0;  // in elements
  float alpha = 1.0f, beta = 0.0f;
};

class Gemm {
 public:
  explicit Gemm(vk::Context& ctx);
  ~Gemm();
  void run(vk::Stream& s, const vk::Buffer& a, const vk::Buffer& b, vk::Buffer& c, const GemmShape& shape);
  bool uses_cpu_variant() const { return cpu_variant_; }

 private:
  vk::Context& ctx_;
  uint32_t wg_ = 16, tk_ = 16;
  bool cpu_variant_ = false;  // gemm_registers.comp where the layout allows
  std::unique_ptr<vk::Kernel> kernels_[4];  // by (a_kmajor, b_kmajor)
  std::unique_ptr<vk::Kernel> registers_;   // gemm_registers.comp (CPU devices)
};

}  // namespace vkq::kernels
