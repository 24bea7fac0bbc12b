#include "kernels/cross_gram.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "kernels/shape_check.hpp"
#include "kernels/variant.hpp"

namespace vkq::kernels {

namespace {
struct ChunkPush {
  uint32_t n, tokens, xf_off, xq_off;
  float weight;
};
struct FinalizePush {  // shaders/gram_finalize.comp: out = scale · (hi − lo)
  uint32_t count;
  float scale;
};
constexpr uint32_t kFinalizeWg = 256;
}  // namespace

CrossGramAccumulator::CrossGramAccumulator(vk::Context& ctx, uint32_t channels) : ctx_(ctx), n_(channels) {
  if (channels == 0) throw Error("cross_gram_accumulate: zero input channels");
  if (uint64_t(channels) * channels > UINT32_MAX)
    throw Error("cross_gram_accumulate: " + std::to_string(channels) +
                " channels give an n x n cross-Gram above 2^32 elements");
  const auto& p = ctx.probe();
  if (p.max_workgroup_invocations < 256 || p.max_workgroup_size[0] < 16 || p.max_workgroup_size[1] < 16) wg_ = 8;
  cpu_variant_ = choose_cpu_variant(p, "VKQ_CROSS_GRAM_VARIANT");
  const uint64_t bytes = uint64_t(channels) * channels * 4;
  d_hi_ = vk::Buffer(ctx, bytes, vk::MemoryUse::Device, "cross-gram D_hi");
  d_lo_ = vk::Buffer(ctx, bytes, vk::MemoryUse::Device, "cross-gram D_lo");
}

const vk::Kernel& CrossGramAccumulator::kernel(bool registers) {
  std::unique_ptr<vk::Kernel>& k = registers ? registers_ : accumulate_;
  if (!k)
    k = registers ? std::make_unique<vk::Kernel>(
                        ctx_, vk::KernelDesc{"cross_gram_registers", 4, sizeof(ChunkPush), {64u, 4u, 2u, 128u}})
                  : std::make_unique<vk::Kernel>(
                        ctx_, vk::KernelDesc{"cross_gram_accumulate", 4, sizeof(ChunkPush), {wg_, 16u, 64u}});
  return *k;
}

CrossGramAccumulator::~CrossGramAccumulator() = default;

void CrossGramAccumulator::reset(vk::Stream& s) {
  s.fill_zero(d_hi_);
  s.fill_zero(d_lo_);
  s.barrier();
  tokens_ = 0;
}

void CrossGramAccumulator::accumulate(vk::Stream& s, const vk::Buffer& x_full, const vk::Buffer& x_quant,
                                      uint32_t tokens, float weight, uint64_t xf_offset, uint64_t xq_offset) {
  if (!std::isfinite(weight))
    throw Error("cross_gram_accumulate: chunk weight " + std::to_string(weight) + " is not finite");
  if (tokens == 0) return;
  require_matrix_fits("cross_gram_accumulate", "X_f", x_full, xf_offset, tokens, n_, n_, 4);
  require_matrix_fits("cross_gram_accumulate", "X_q", x_quant, xq_offset, tokens, n_, n_, 4);
  // The register-blocked CPU form reads 4 channels at a time: it needs n and both offsets 4-aligned.
  const bool registers = cpu_variant_ && n_ % 4 == 0 && xf_offset % 4 == 0 && xq_offset % 4 == 0;
  const vk::Kernel& k = kernel(registers);
  uint32_t gx = 0, gy = 1;
  if (registers) {
    gx = register_block_workgroups(n_, k.desc().spec);
  } else {
    const uint32_t tile = wg_ * 4;
    gx = gy = (n_ + tile - 1) / tile;
  }
  for (uint32_t t0 = 0; t0 < tokens; t0 += kChunkTokens) {
    const uint32_t count = std::min(kChunkTokens, tokens - t0);
    const ChunkPush push{n_, count, uint32_t(xf_offset + uint64_t(t0) * n_), uint32_t(xq_offset + uint64_t(t0) * n_),
                         weight};
    s.dispatch(k, {&x_full, &x_quant, &d_hi_, &d_lo_}, push, gx, gy);
    s.barrier();  // the next chunk reads and writes the same accumulators
  }
  tokens_ += tokens;
}

void CrossGramAccumulator::finalize(vk::Stream& s, vk::Buffer& d) {
  if (tokens_ == 0) throw Error("cross_gram_accumulate: finalize() before any token was accumulated");
  const uint64_t count = uint64_t(n_) * n_;
  require_matrix_fits("cross_gram_finalize", "D", d, 0, n_, n_, n_, 4);
  if (!finalize_)
    finalize_ = std::make_unique<vk::Kernel>(ctx_, vk::KernelDesc{"gram_finalize", 3, sizeof(FinalizePush), {kFinalizeWg}});
  const FinalizePush push{uint32_t(count), float(2.0 / double(tokens_))};
  s.dispatch(*finalize_, {&d_hi_, &d_lo_, &d}, push, uint32_t((count + kFinalizeWg - 1) / kFinalizeWg));
  s.barrier();
}

std::vector<double> CrossGramAccumulator::cross_gram_host() const {
  const size_t count = size_t(n_) * n_;
  auto hi = vk::download_all<float>(ctx_, d_hi_, count);
  auto lo = vk::download_all<float>(ctx_, d_lo_, count);
  std::vector<double> d(count);
  const double scale = tokens_ ? 2.0 / double(tokens_) : 0.0;
  for (size_t i = 0; i < count; ++i) d[i] = scale * (double(hi[i]) - double(lo[i]));
  return d;
}

}  // namespace vkq::kernels
