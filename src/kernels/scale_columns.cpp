#include "kernels/scale_columns.hpp"

#include "kernels/shape_check.hpp"

namespace vkq::kernels {

namespace {
struct Push {
  uint32_t m, n, lda, ldb, a_off, b_off;
};
constexpr uint32_t kWg = 64;
}  // namespace

ColumnScale::ColumnScale(vk::Context& ctx) : ctx_(ctx) {}
ColumnScale::~ColumnScale() = default;

void ColumnScale::run(vk::Stream& s, vk::Buffer& a, const vk::Buffer& scales, const ColumnScaleShape& shape) {
  dispatch(s, a, scales, nullptr, shape);
}

void ColumnScale::run_minus(vk::Stream& s, vk::Buffer& a, const vk::Buffer& scales, const vk::Buffer& b,
                            const ColumnScaleShape& shape) {
  dispatch(s, a, scales, &b, shape);
}

void ColumnScale::dispatch(vk::Stream& s, vk::Buffer& a, const vk::Buffer& scales, const vk::Buffer* b,
                           const ColumnScaleShape& sh) {
  if (sh.m == 0 || sh.n == 0) return;
  const uint32_t lda = sh.lda ? sh.lda : sh.n, ldb = sh.ldb ? sh.ldb : sh.n;
  require_matrix_fits("scale_columns", "A", a, sh.a_offset, sh.m, sh.n, lda, 4);
  require_matrix_fits("scale_columns", "s", scales, 0, 1, sh.n, sh.n, 4);
  if (b) require_matrix_fits("scale_columns", "B", *b, sh.b_offset, sh.m, sh.n, ldb, 4);
  const int which = (sh.divide ? 2 : 0) + (b ? 1 : 0);
  if (!kernels_[which])
    kernels_[which] = std::make_unique<vk::Kernel>(
        ctx_, vk::KernelDesc{"scale_columns", 3, sizeof(Push), {kWg, sh.divide ? 1u : 0u, b ? 1u : 0u}});
  const Push push{sh.m, sh.n, lda, ldb, uint32_t(sh.a_offset), uint32_t(sh.b_offset)};
  // Without B the shader never reads binding 2: bind s there to satisfy the layout.
  s.dispatch(*kernels_[which], {&a, &scales, b ? b : &scales}, push, (sh.n + kWg - 1) / kWg, sh.m);
}

}  // namespace vkq::kernels
