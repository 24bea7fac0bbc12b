#include "kernels/gemm.hpp"

#include <string>

#include "kernels/shape_check.hpp"
#include "kernels/variant.hpp"

namespace vkq::kernels {

namespace {
struct GemmPush {
  uint32_t m, n, k, lda, ldb, ldc, a_off, b_off, c_off;
  float alpha, beta;
};
}  // namespace

Gemm::Gemm(vk::Context& ctx) : ctx_(ctx) {
  // 16x16 invocations with 4x4 micro-tiles need 256 invocations and 8 KiB of shared memory.
  const auto& p = ctx.probe();
  if (p.max_workgroup_invocations < 256 || p.max_workgroup_size[0] < 16 || p.max_workgroup_size[1] < 16) wg_ = 8;
  while (2u * tk_ * wg_ * 4u * 4u > p.max_shared_memory && tk_ > 4) tk_ /= 2;
  cpu_variant_ = choose_cpu_variant(p, "VKQ_GEMM_VARIANT");
}

Gemm::~Gemm() = default;

void Gemm::run(vk::Stream& s, const vk::Buffer& a, const vk::Buffer& b, vk::Buffer& c, const GemmShape& sh) {
  if (sh.m == 0 || sh.n == 0) return;
  const uint32_t lda = sh.lda ? sh.lda : (sh.a_kmajor ? sh.m : sh.k);
  const uint32_t ldb = sh.ldb ? sh.ldb : (sh.b_kmajor ? sh.n : sh.k);
  const uint32_t ldc = sh.ldc ? sh.ldc : sh.n;
  const uint64_t a_rows = sh.a_kmajor ? sh.k : sh.m, a_cols = sh.a_kmajor ? sh.m : sh.k;
  const uint64_t b_rows = sh.b_kmajor ? sh.k : sh.n, b_cols = sh.b_kmajor ? sh.n : sh.k;
  require_matrix_fits("gemm", "A", a, sh.a_offset, a_rows, a_cols, lda, 4);
  require_matrix_fits("gemm", "B", b, sh.b_offset, b_rows, b_cols, ldb, 4);
  require_matrix_fits("gemm", "C", c, sh.c_offset, sh.m, sh.n, ldc, 4);
  const GemmPush push{sh.m, sh.n, sh.k, lda, ldb, ldc, uint32_t(sh.a_offset), uint32_t(sh.b_offset),
                      uint32_t(sh.c_offset), sh.alpha, sh.beta};
  // The register-blocked CPU form reads vec4 along k: it needs the NT layout, 4-aligned.
  const bool aligned = !sh.a_kmajor && !sh.b_kmajor && sh.k % 4 == 0 && lda % 4 == 0 && ldb % 4 == 0 &&
                       sh.a_offset % 4 == 0 && sh.b_offset % 4 == 0;
  if (cpu_variant_ && aligned) {
    if (!registers_)
      registers_ = std::make_unique<vk::Kernel>(ctx_, vk::KernelDesc{"gemm_registers", 3, sizeof(GemmPush),
                                                                     {8u, 16u, 16u}});
    const auto& spec = registers_->desc().spec;
    const uint64_t blocks = uint64_t((sh.m + spec[1] - 1) / spec[1]) * ((sh.n + spec[2] - 1) / spec[2]);
    s.dispatch(*registers_, {&a, &b, &c}, push, uint32_t((blocks + spec[0] - 1) / spec[0]));
    return;
  }
  const int which = (sh.a_kmajor ? 2 : 0) + (sh.b_kmajor ? 1 : 0);
  if (!kernels_[which])
    kernels_[which] = std::make_unique<vk::Kernel>(
        ctx_, vk::KernelDesc{"gemm", 3, sizeof(GemmPush), {wg_, tk_, sh.a_kmajor ? 1u : 0u, sh.b_kmajor ? 1u : 0u}});
  const vk::Kernel& k = *kernels_[which];
  const uint32_t tile = k.desc().spec[0] * 4;
  s.dispatch(k, {&a, &b, &c}, push, (sh.n + tile - 1) / tile, (sh.m + tile - 1) / tile);
}

}  // namespace vkq::kernels
