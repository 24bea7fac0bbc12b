#include "kernels/row_weights.hpp"

#include <string>

#include "kernels/shape_check.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::kernels {

namespace {
struct Push {
  uint32_t tokens, cols, w_stride, w_index, accumulate, indicator;
};
constexpr uint32_t kWg = 64;
}  // namespace

RowWeights::RowWeights(vk::Context& ctx)
    : kernel_(std::make_unique<vk::Kernel>(ctx, vk::KernelDesc{"row_weights", 3, sizeof(Push), {kWg}})) {}
RowWeights::~RowWeights() = default;

void RowWeights::scale(vk::Stream& s, const vk::Buffer& x, const vk::Buffer& w, vk::Buffer& out,
                       const RowWeightShape& shape, bool accumulate) {
  dispatch(s, x, w, out, shape, accumulate, false);
}

void RowWeights::mask(vk::Stream& s, const vk::Buffer& x, const vk::Buffer& w, vk::Buffer& out,
                      const RowWeightShape& shape) {
  dispatch(s, x, w, out, shape, false, true);
}

void RowWeights::dispatch(vk::Stream& s, const vk::Buffer& x, const vk::Buffer& w, vk::Buffer& out,
                          const RowWeightShape& sh, bool accumulate, bool indicator) {
  if (sh.tokens == 0 || sh.cols == 0) return;
  if (sh.w_index >= sh.w_stride)
    throw Error("row_weights: weight column " + std::to_string(sh.w_index) + " outside rows of " +
                std::to_string(sh.w_stride));
  const uint64_t count = uint64_t(sh.tokens) * sh.cols;
  require_matrix_fits("row_weights", "x", x, 0, sh.tokens, sh.cols, sh.cols, 4);
  require_matrix_fits("row_weights", "out", out, 0, sh.tokens, sh.cols, sh.cols, 4);
  require_matrix_fits("row_weights", "w", w, 0, sh.tokens, sh.w_stride, sh.w_stride, 4);
  const uint64_t groups = (count + kWg - 1) / kWg;
  s.dispatch(*kernel_, {&x, &w, &out},
             Push{sh.tokens, sh.cols, sh.w_stride, sh.w_index, accumulate ? 1u : 0u, indicator ? 1u : 0u},
             uint32_t(groups));
}

}  // namespace vkq::kernels
