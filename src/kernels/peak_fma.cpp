#include "kernels/peak_fma.hpp"

#include <cmath>
#include <string>

#include "kernels/shape_check.hpp"

namespace vkq::kernels {

namespace {
struct Push {
  uint32_t invocations, iterations;
  float a, b;
};
constexpr uint32_t kWg = 64;
}  // namespace

PeakFma::PeakFma(vk::Context& ctx)
    : kernel_(std::make_unique<vk::Kernel>(ctx, vk::KernelDesc{"peak_fma", 1, sizeof(Push), {kWg}})) {}
PeakFma::~PeakFma() = default;

void PeakFma::run(vk::Stream& s, vk::Buffer& out, const PeakFmaShape& sh) {
  if (sh.invocations == 0) return;
  if (!(std::fabs(sh.a) < 1.0f) || !std::isfinite(sh.b)) throw Error("peak_fma: need |a| < 1 and a finite b");
  require_matrix_fits("peak_fma", "out", out, 0, 1, sh.invocations, sh.invocations, 4);
  const uint32_t wg = kernel_->desc().spec[0];  // after any VKQ_SPEC_ override
  s.dispatch(*kernel_, {&out}, Push{sh.invocations, sh.iterations, sh.a, sh.b}, (sh.invocations + wg - 1) / wg);
}

}  // namespace vkq::kernels
