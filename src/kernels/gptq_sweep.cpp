#include "kernels/gptq_sweep.hpp"

#include <algorithm>
#include <string>

#include "kernels/shape_check.hpp"

namespace vkq::kernels {

namespace {
struct SweepPush {
  uint32_t m, n, i1, bl, g, ng, first;
};
constexpr uint32_t kMaxBlock = 128;
}  // namespace

uint32_t GptqSweep::max_block(const vk::DeviceProbe& probe) {
  uint32_t b = kMaxBlock;
  while (b > 8 && uint64_t(b) * (b + 1) / 2 * 4 > probe.max_shared_memory) b -= 8;
  return b;
}

uint32_t aligned_block(uint32_t cap, uint32_t n, uint32_t group, bool dynamic_groups) {
  cap = std::max(1u, std::min(cap, n));
  if (!dynamic_groups || group >= n) return cap;  // static, or one group per row: any B works
  if (group <= cap) return group * (cap / group);
  for (uint32_t b = cap; b > 1; --b)
    if (group % b == 0) return b;
  return 1;
}

GptqSweep::GptqSweep(vk::Context& ctx, const GridDesc& grid) : ctx_(ctx), grid_(grid), gemm_(ctx) {
  const auto& p = ctx.probe();
  wg_ = std::min(64u, p.max_workgroup_invocations);
}

GptqSweep::~GptqSweep() = default;

uint32_t GptqSweep::device_block(uint32_t requested, uint32_t n, bool dynamic_groups) const {
  if (requested == 0) throw Error("gptq_sweep_block: block size B = 0");
  return aligned_block(std::min(requested, max_block(ctx_.probe())), n, std::min(grid_.group, n), dynamic_groups);
}

const vk::Kernel& GptqSweep::kernel(uint32_t block, bool dynamic_groups) {
  const uint64_t key = uint64_t(block) * 2 + (dynamic_groups ? 1 : 0);
  auto& k = kernels_[key];
  if (!k)
    k = std::make_unique<vk::Kernel>(
        ctx_, vk::KernelDesc{"gptq_sweep_block", 8, sizeof(SweepPush),
                             {wg_, block, uint32_t(grid_.format), grid_.bits, grid_.symmetric ? 1u : 0u,
                              dynamic_groups ? 1u : 0u}});
  return *k;
}

void GptqSweep::check(const SweepBuffers& b, const SweepShape& sh) const {
  if (!b.w || !b.u || !b.perm || !b.params || !b.codes || !b.dequantized || !b.row_loss)
    throw Error("gptq_sweep_block: an operand buffer is missing");
  validate_grid_desc("gptq_sweep_block", grid_, sh.n);
  const uint32_t ng = grid_.groups_per_row(sh.n);
  require_matrix_fits("gptq_sweep_block", "W", *b.w, 0, sh.m, sh.n, sh.n, 4);
  require_matrix_fits("gptq_sweep_block", "U", *b.u, 0, sh.n, sh.n, sh.n, 4);
  require_matrix_fits("gptq_sweep_block", "perm", *b.perm, 0, 1, sh.n, sh.n, 4);
  require_matrix_fits("gptq_sweep_block", "params", *b.params, 0, sh.m, ng, ng, kGroupParamsBytes);
  require_matrix_fits("gptq_sweep_block", "codes", *b.codes, 0, sh.m, sh.n, sh.n, 4);
  require_matrix_fits("gptq_sweep_block", "dequantized", *b.dequantized, 0, sh.m, sh.n, sh.n, 4);
  require_matrix_fits("gptq_sweep_block", "row loss", *b.row_loss, 0, 1, sh.m, sh.m, 4);
}

void GptqSweep::run(vk::Stream& s, const SweepBuffers& b, const SweepShape& sh) {
  if (sh.m == 0) return;
  check(b, sh);
  const uint32_t bsz = device_block(sh.block, sh.n, sh.dynamic_groups);
  const uint32_t g = std::min(grid_.group, sh.n), ng = grid_.groups_per_row(sh.n);
  const uint64_t e_bytes = uint64_t(sh.m) * bsz * 4;
  if (!e_ || e_.size() < e_bytes) {
    if (e_) retired_.push_back(std::move(e_));
    e_ = vk::Buffer(ctx_, e_bytes, vk::MemoryUse::Device, "gptq_sweep E");
  }
  const vk::Kernel& k = kernel(bsz, sh.dynamic_groups);
  for (uint32_t i1 = 0; i1 < sh.n; i1 += bsz) {
    const uint32_t bl = std::min(bsz, sh.n - i1), i2 = i1 + bl;
    const SweepPush push{sh.m, sh.n, i1, bl, g, ng, i1 == 0 ? 1u : 0u};
    s.dispatch(k, {b.w, b.u, b.perm, b.params, b.codes, b.dequantized, &e_, b.row_loss}, push, (sh.m + wg_ - 1) / wg_);
    s.barrier();
    if (i2 == sh.n) break;
    // W[:, i2:] −= E · U[i1:i2, i2:]  (B operand k-major: rows i1.., columns i2.. of U)
    GemmShape gs;
    gs.m = sh.m, gs.n = sh.n - i2, gs.k = bl;
    gs.lda = bl;
    gs.b_kmajor = true, gs.ldb = sh.n, gs.b_offset = uint64_t(i1) * sh.n + i2;
    gs.ldc = sh.n, gs.c_offset = i2;
    gs.alpha = -1.0f, gs.beta = 1.0f;
    gemm_.run(s, e_, *b.u, *b.w, gs);
    s.barrier();
  }
}

}  // namespace vkq::kernels
