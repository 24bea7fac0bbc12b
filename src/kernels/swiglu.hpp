// Host wrapper of shaders/swiglu.comp: out = silu(gate) * up, elementwise (LLaMA FFN).
#pragma once

#include <cstdint>
#include <memory>

#include "vk/buffer.hpp"
#include "vk/context.hpp"
#include "vk/kernel.hpp"
#include "vk/stream.hpp"

namespace vkq::kernels {

class Swiglu {
 public:
  explicit Swiglu(vk::Context& ctx);
  ~Swiglu();
  // The first `count` elements of each buffer; out may be gate or up.
  void run(vk::Stream& s, const vk::Buffer& gate, const vk::Buffer& up, vk::Buffer& out, uint32_t count);

 private:
  std::unique_ptr<vk::Kernel> kernel_;
};

}  // namespace vkq::kernels
