#include "kernels/rms_norm.hpp"

#include "kernels/shape_check.hpp"

namespace vkq::kernels {

namespace {
struct Push {
  uint32_t rows, cols, x_off, x_stride, y_off, y_stride;
  float eps;
};
constexpr uint32_t kWg = 64;  // Vulkan guarantees >= 128 invocations per workgroup
}  // namespace

RmsNorm::RmsNorm(vk::Context& ctx, RowForm form) {
  if (lane_per_row(form, ctx.probe())) {
    kernel_ = std::make_unique<vk::Kernel>(ctx, vk::KernelDesc{"rms_norm_rows", 3, sizeof(Push), {kWg}});
    rows_per_group_ = kernel_->desc().spec[0];  // after any VKQ_SPEC_ override
  } else {
    kernel_ = std::make_unique<vk::Kernel>(ctx, vk::KernelDesc{"rms_norm", 3, sizeof(Push), {kWg}});
  }
}
RmsNorm::~RmsNorm() = default;

void RmsNorm::run(vk::Stream& s, const vk::Buffer& x, const vk::Buffer& w, vk::Buffer& y, const RmsNormShape& sh) {
  if (sh.rows == 0 || sh.cols == 0) return;
  const uint32_t xs = sh.x_stride ? sh.x_stride : sh.cols, ys = sh.y_stride ? sh.y_stride : sh.cols;
  require_matrix_fits("rms_norm", "x", x, sh.x_off, sh.rows, sh.cols, xs, 4);
  require_matrix_fits("rms_norm", "w", w, 0, 1, sh.cols, sh.cols, 4);
  require_matrix_fits("rms_norm", "y", y, sh.y_off, sh.rows, sh.cols, ys, 4);
  if (!(sh.eps >= 0)) throw Error("rms_norm: eps must be >= 0");
  const Push push{sh.rows, sh.cols, sh.x_off, xs, sh.y_off, ys, sh.eps};
  s.dispatch(*kernel_, {&x, &w, &y}, push, (sh.rows + rows_per_group_ - 1) / rows_per_group_);
}

}  // namespace vkq::kernels
