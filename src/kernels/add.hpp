// Host wrapper of shaders/add.comp: out = a + b, elementwise (the residual connections), and a bias
// added to every row of an activation.
#pragma once

#include <cstdint>
#include <memory>

#include "vk/buffer.hpp"
#include "vk/context.hpp"
#include "vk/kernel.hpp"
#include "vk/stream.hpp"

namespace vkq::kernels {

class Add {
 public:
  explicit Add(vk::Context& ctx);
  ~Add();
  // The first `count` elements of each buffer; out may be a or b.
  void run(vk::Stream& s, const vk::Buffer& a, const vk::Buffer& b, vk::Buffer& out, uint32_t count);
  // x[offset + r·cols + j] += bias[j] for r < rows (a linear's bias, in place; offset in elements).
  void add_row_bias(vk::Stream& s, vk::Buffer& x, const vk::Buffer& bias, uint32_t rows, uint32_t cols,
                    uint64_t offset = 0);

 private:
  std::unique_ptr<vk::Kernel> kernel_;
};

}  // namespace vkq::kernels
