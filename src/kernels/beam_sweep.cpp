#include "kernels/beam_sweep.hpp"

#include <algorithm>
#include <string>
#include <utility>

#include "kernels/gptq_sweep.hpp"
#include "kernels/shape_check.hpp"

namespace vkq::kernels {

namespace {
struct BeamPush {
  uint32_t m, n, i1, bl, g, ng, first, mode;
};

// Shared memory of beam_sweep.comp: two buffers of K × B row values and errors, K² candidates.
uint64_t beam_shared_bytes(uint32_t k, uint32_t b) {
  return uint64_t(4) * (4ull * k * b + 2ull * k + 2ull * k + 5ull * k * k + 2ull * k + 2);
}
}  // namespace

BeamSweep::BeamSweep(vk::Context& ctx, const GridDesc& grid, uint32_t width)
    : ctx_(ctx), grid_(grid), k_(width), gemm_(ctx) {
  if (width == 0 || width > kMaxWidth)
    throw Error("beam_sweep: beam width K = " + std::to_string(width) + " outside 1.." + std::to_string(kMaxWidth));
  // One workgroup per row with a handful of barriers per column: on CPU devices each barrier
  // switches every invocation, and 16 invocations measured 1.5–3× faster than 64 on lavapipe.
  wg_ = std::min(ctx.probe().kind == vk::DeviceKind::Cpu ? 16u : 64u, ctx.probe().max_workgroup_invocations);
  if (beam_shared_bytes(k_, 8) > ctx.probe().max_shared_memory)
    throw Error("beam_sweep: beam width K = " + std::to_string(width) + " does not fit the device's shared memory");
}

BeamSweep::~BeamSweep() = default;

uint32_t BeamSweep::device_block(uint32_t requested, uint32_t n) const {
  if (requested == 0) throw Error("beam_sweep: block size B = 0");
  // The static greedy sweep's B (so K = 1 matches it bit for bit), less if shared memory is short.
  uint32_t b = aligned_block(std::min(requested, GptqSweep::max_block(ctx_.probe())), n, grid_.group, false);
  while (b > 8 && beam_shared_bytes(k_, b) > ctx_.probe().max_shared_memory) b -= 8;
  return b;
}

uint64_t BeamSweep::workspace_bytes(uint32_t m, uint32_t n, uint32_t block) const {
  const uint64_t km = uint64_t(k_) * m;
  return 4 * (2 * km * n + km * block + uint64_t(m) * (k_ + 2) + km * n);
}

const vk::Kernel& BeamSweep::kernel(uint32_t block) {
  auto& k = kernels_[block];
  if (!k)
    k = std::make_unique<vk::Kernel>(ctx_, vk::KernelDesc{"beam_sweep", 11, sizeof(BeamPush),
                                                          {wg_, k_, block, uint32_t(grid_.format), grid_.bits,
                                                           grid_.symmetric ? 1u : 0u}});
  return *k;
}

vk::Buffer& BeamSweep::scratch(vk::Buffer& buf, uint64_t bytes, const char* label) {
  if (!buf || buf.size() < bytes) {
    if (buf) retired_.push_back(std::move(buf));
    buf = vk::Buffer(ctx_, bytes, vk::MemoryUse::Device, label);
  }
  return buf;
}

void BeamSweep::run(vk::Stream& s, const BeamBuffers& b, const BeamShape& sh) {
  if (sh.m == 0) return;
  if (!b.target || !b.u || !b.perm || !b.params || !b.codes || !b.dequantized || !b.row_loss)
    throw Error("beam_sweep: an operand buffer is missing");
  validate_grid_desc("beam_sweep", grid_, sh.n);
  const uint32_t ng = grid_.groups_per_row(sh.n), g = std::min(grid_.group, sh.n);
  require_matrix_fits("beam_sweep", "T", *b.target, 0, sh.m, sh.n, sh.n, 4);
  require_matrix_fits("beam_sweep", "U", *b.u, 0, sh.n, sh.n, sh.n, 4);
  require_matrix_fits("beam_sweep", "perm", *b.perm, 0, 1, sh.n, sh.n, 4);
  require_matrix_fits("beam_sweep", "params", *b.params, 0, sh.m, ng, ng, kGroupParamsBytes);
  require_matrix_fits("beam_sweep", "codes", *b.codes, 0, sh.m, sh.n, sh.n, 4);
  require_matrix_fits("beam_sweep", "dequantized", *b.dequantized, 0, sh.m, sh.n, sh.n, 4);
  require_matrix_fits("beam_sweep", "row loss", *b.row_loss, 0, 1, sh.m, sh.m, 4);
  const uint64_t km = uint64_t(k_) * sh.m, mn = uint64_t(sh.m) * sh.n;
  if (km * sh.n > UINT32_MAX)
    throw Error("beam_sweep: K·m·n = " + std::to_string(km * sh.n) + " working elements exceed 2^32; split the rows");
  const uint32_t bsz = device_block(sh.block, sh.n);
  vk::Buffer* wa = &scratch(wa_, km * sh.n * 4, "beam rows A");
  vk::Buffer* wb = &scratch(wb_, km * sh.n * 4, "beam rows B");
  vk::Buffer& e = scratch(e_, km * bsz * 4, "beam E");
  vk::Buffer& state = scratch(state_, uint64_t(sh.m) * (k_ + 2) * 4, "beam state");
  vk::Buffer& hist = scratch(hist_, km * sh.n * 4, "beam history");
  const vk::Kernel& k = kernel(bsz);
  for (uint32_t c = 0; c < k_; ++c) s.copy(*b.target, *wa, mn * 4, 0, c * mn * 4);  // every beam starts at T
  s.barrier();
  for (uint32_t i1 = 0; i1 < sh.n; i1 += bsz) {
    const uint32_t bl = std::min(bsz, sh.n - i1), i2 = i1 + bl;
    const BeamPush push{sh.m, sh.n, i1, bl, g, ng, i1 == 0 ? 1u : 0u, 0u};
    s.dispatch(k, {wa, wb, b.u, b.perm, b.params, &e, &state, &hist, b.codes, b.dequantized, b.row_loss}, push, sh.m);
    s.barrier();
    if (i2 == sh.n) break;
    // Wnext[:, i2:] −= E · U[i1:i2, i2:] on all K·m beam rows.
    GemmShape gs;
    gs.m = uint32_t(km), gs.n = sh.n - i2, gs.k = bl;
    gs.lda = bl;
    gs.b_kmajor = true, gs.ldb = sh.n, gs.b_offset = uint64_t(i1) * sh.n + i2;
    gs.ldc = sh.n, gs.c_offset = i2;
    gs.alpha = -1.0f, gs.beta = 1.0f;
    gemm_.run(s, e, *b.u, *wb, gs);
    s.barrier();
    std::swap(wa, wb);
  }
  const BeamPush fin{sh.m, sh.n, 0, 0, g, ng, 0u, 1u};
  s.dispatch(k, {wa, wb, b.u, b.perm, b.params, &e, &state, &hist, b.codes, b.dequantized, b.row_loss}, fin, sh.m);
  s.barrier();
}

}  // namespace vkq::kernels
