#include "kernels/add.hpp"

#include "kernels/shape_check.hpp"

#include <string>

#include "vkquant/vkquant.hpp"

namespace vkq::kernels {

namespace {
struct Push {
  uint32_t count, period, a_off, o_off;
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
  s.dispatch(*kernel_, {&a, &b, &out}, Push{count, count, 0, 0}, (count + kWg - 1) / kWg);
}

void Add::add_row_bias(vk::Stream& s, vk::Buffer& x, const vk::Buffer& bias, uint32_t rows, uint32_t cols,
                       uint64_t offset) {
  if (rows == 0 || cols == 0) return;
  const uint64_t count = uint64_t(rows) * cols;
  if (count > UINT32_MAX || offset > UINT32_MAX)
    throw Error("add: " + std::to_string(rows) + " x " + std::to_string(cols) + " at element " +
                std::to_string(offset) + " is above the 2^32 elements a shader can index");
  require_matrix_fits("add", "x", x, offset, rows, cols, cols, 4);
  require_matrix_fits("add", "bias", bias, 0, 1, cols, cols, 4);
  s.dispatch(*kernel_, {&x, &bias, &x}, Push{uint32_t(count), cols, uint32_t(offset), uint32_t(offset)},
             uint32_t((count + kWg - 1) / kWg));
}

}  // namespace vkq::kernels
