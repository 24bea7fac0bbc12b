#include "kernels/row_quadratic_form.hpp"

#include "kernels/shape_check.hpp"

namespace vkq::kernels {

namespace {
struct Push {
  uint32_t m, n, ldg, lde, r_off;
};
}  // namespace

RowQuadraticForm::RowQuadraticForm(vk::Context& ctx) : ctx_(ctx) {
  // A power of two within the device's workgroup limit; 64 keeps a row's loads spread on CPUs too.
  uint32_t wg = 64;
  while (wg > ctx.probe().max_workgroup_invocations || wg > ctx.probe().max_workgroup_size[0]) wg /= 2;
  kernel_ = std::make_unique<vk::Kernel>(ctx, vk::KernelDesc{"row_quadratic_form", 3, sizeof(Push), {wg}});
}

RowQuadraticForm::~RowQuadraticForm() = default;

void RowQuadraticForm::run(vk::Stream& s, const vk::Buffer& g, const vk::Buffer& e, vk::Buffer& r,
                           const RowDotShape& sh) {
  if (sh.m == 0) return;
  const uint32_t ldg = sh.ldg ? sh.ldg : sh.n, lde = sh.lde ? sh.lde : sh.n;
  if (sh.n) {
    require_matrix_fits("row_quadratic_form", "G", g, 0, sh.m, sh.n, ldg, 4);
    require_matrix_fits("row_quadratic_form", "E", e, 0, sh.m, sh.n, lde, 4);
  }
  require_matrix_fits("row_quadratic_form", "r", r, sh.r_offset, 1, sh.m, sh.m, 4);
  const Push push{sh.m, sh.n, ldg, lde, uint32_t(sh.r_offset)};
  s.dispatch(*kernel_, {&g, &e, &r}, push, sh.m);
}

}  // namespace vkq::kernels
