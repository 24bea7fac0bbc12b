#include "kernels/swiglu.hpp"

#include "kernels/shape_check.hpp"

namespace vkq::kernels {

namespace {
struct Push {
  uint32_t count;
};
constexpr uint32_t kWg = 64;
}  // namespace

Swiglu::Swiglu(vk::Context& ctx, GatedActivation act)
    : kernel_(std::make_unique<vk::Kernel>(ctx, vk::KernelDesc{"swiglu", 3, sizeof(Push), {kWg, uint32_t(act)}})) {}
Swiglu::~Swiglu() = default;

void Swiglu::run(vk::Stream& s, const vk::Buffer& gate, const vk::Buffer& up, vk::Buffer& out, uint32_t count) {
  if (count == 0) return;
  require_matrix_fits("swiglu", "gate", gate, 0, 1, count, count, 4);
  require_matrix_fits("swiglu", "up", up, 0, 1, count, count, 4);
  require_matrix_fits("swiglu", "out", out, 0, 1, count, count, 4);
  s.dispatch(*kernel_, {&gate, &up, &out}, Push{count}, (count + kWg - 1) / kWg);
}

}  // namespace vkq::kernels
