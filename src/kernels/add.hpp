// Host wrapper of shaders/add.comp: out = a + b, elementwise (the residual connections).
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

 private:
  std::unique_ptr<vk::Kernel> kernel_;
};

}  // namespace vkq::kernels
