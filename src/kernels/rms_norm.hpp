// Host wrapper of shaders/rms_norm.comp (a workgroup per row) and rms_norm_rows.comp (a lane per row,
// row_form.hpp): y = x / sqrt(mean(x^2) + eps) * w per row (LLaMA RMSNorm).
#pragma once

#include <cstdint>
#include <memory>

#include "kernels/row_form.hpp"
#include "vk/buffer.hpp"
#include "vk/context.hpp"
#include "vk/kernel.hpp"
#include "vk/stream.hpp"

namespace vkq::kernels {

struct RmsNormShape {
  uint32_t rows = 0, cols = 0;
  uint32_t x_off = 0, x_stride = 0;  // elements; stride 0: packed (cols)
  uint32_t y_off = 0, y_stride = 0;
  float eps = 1e-5f;
};

class RmsNorm {
 public:
  explicit RmsNorm(vk::Context& ctx, RowForm form = RowForm::Auto);
  ~RmsNorm();
  // x: rows x cols (strided), w: cols, y: rows x cols (strided; y may be x, row for row, not otherwise overlap it).
  void run(vk::Stream& s, const vk::Buffer& x, const vk::Buffer& w, vk::Buffer& y, const RmsNormShape& shape);

 private:
  std::unique_ptr<vk::Kernel> kernel_;
  uint32_t rows_per_group_ = 1;
};

}  // namespace vkq::kernels
