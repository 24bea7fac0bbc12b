// Host wrapper of shaders/peak_fma.comp: a multiply-add-bound kernel whose speed is the device's compute
// roof (bench/ prints every kernel as a fraction of it).
#pragma once

#include <cstdint>
#include <memory>

#include "vk/buffer.hpp"
#include "vk/context.hpp"
#include "vk/kernel.hpp"
#include "vk/stream.hpp"

namespace vkq::kernels {

struct PeakFmaShape {
  uint32_t invocations = 0;
  uint32_t iterations = 0;
  float a = 0.999f, b = 0.001f;  // x = x·a + b: |a| < 1 keeps the values bounded
};

class PeakFma {
 public:
  static constexpr uint32_t kChains = 2;  // vec4 chains per invocation (the shader's CHAINS)

  explicit PeakFma(vk::Context& ctx);
  ~PeakFma();
  // out: invocations floats, each the sum of one invocation's chains after the iterations.
  void run(vk::Stream& s, vk::Buffer& out, const PeakFmaShape& shape);
  // Floating-point operations of one run (a multiply-add counts two).
  static double flops(const PeakFmaShape& shape) { return 8.0 * kChains * double(shape.invocations) * shape.iterations; }

 private:
  std::unique_ptr<vk::Kernel> kernel_;
};

}  // namespace vkq::kernels
