#include "kernels/add.hpp"

#include "kernels/shape_check.hpp"

namespace vkq::kernels {

namespace {
struct Push {
  uint32_t count;
};
constexpr uint32_t kWg = 64;
}  // namespace

Add::Add(vk::Context& ctx) : kernel_(std::make_unique<vk::Kernel>(ctx, vk::KernelDesc{"add", 3, sizeof(Push), {kWg}})) {}
Add::~Add() = default;

void Add::run(vk::Stream& s, const vk::Buffer& a, const vk::Buffer& b, vk::Buffer& out, uint32_t count) {
  if (count == 0) return;
  require_matrix_fits("add", "a", a, 0, 1, count, count, 4);
  require_matrix_fits("add", "b", b, 0, 1, count, count, 4);
  require_matrix_fits("add", "out", out, 0, 1, count, count, 4);
  s.dispatch(*kernel_, {&a, &b, &out}, Push{count}, (count + kWg - 1) / kWg);
}

}  // namespace vkq::kernels
