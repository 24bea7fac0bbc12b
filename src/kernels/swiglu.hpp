// Host wrapper of shaders/swiglu.comp: out = act(gate) * up, elementwise — SiLU (LLaMA/Qwen FFN) or
// GELU-tanh (Gemma's GeGLU).
#pragma once

#include <cstdint>
#include <memory>

#include "vk/buffer.hpp"
#include "vk/context.hpp"
#include "vk/kernel.hpp"
#include "vk/stream.hpp"

namespace vkq::kernels {

enum class GatedActivation : uint32_t { Silu = 0, GeluTanh = 1 };

class Swiglu {
 public:
  explicit Swiglu(vk::Context& ctx, GatedActivation act = GatedActivation::Silu);
  ~Swiglu();
  // The first `count` elements of each buffer; out may be gate or up.
  void run(vk::Stream& s, const vk::Buffer& gate, const vk::Buffer& up, vk::Buffer& out, uint32_t count);

 private:
  std::unique_ptr<vk::Kernel> kernel_;
};

}  // namespace vkq::kernels
