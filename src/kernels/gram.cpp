#include "kernels/gram.hpp"

#include <algorithm>
#include <string>

#include "kernels/shape_check.hpp"
#include "kernels/variant.hpp"

namespace vkq::kernels {

namespace {
struct ChunkPush {
  uint32_t n, tokens, x_off;
};
struct FinalizePush {
  uint32_t count;
  float scale;
};
constexpr uint32_t kStatsWg = 64;
constexpr uint32_t kFinalizeWg = 256;
}  // namespace

GramAccumulator::GramAccumulator(vk::Context& ctx, uint32_t channels) : ctx_(ctx), n_(channels) {
  if (channels == 0) throw Error("gram_accumulate: zero input channels");
  if (uint64_t(channels) * channels > UINT32_MAX)
    throw Error("gram_accumulate: " + std::to_string(channels) + " channels give an n x n Gram above 2^32 elements");
  const auto& p = ctx.probe();
  if (p.max_workgroup_invocations < 256 || p.max_workgroup_size[0] < 16 || p.max_workgroup_size[1] < 16) wg_ = 8;
  cpu_variant_ = choose_cpu_variant(p, "VKQ_GRAM_VARIANT");
  const uint64_t bytes = uint64_t(channels) * channels * 4;
  s_hi_ = vk::Buffer(ctx, bytes, vk::MemoryUse::Device, "gram S_hi");
  s_lo_ = vk::Buffer(ctx, bytes, vk::MemoryUse::Device, "gram S_lo");
  stats_ = vk::Buffer(ctx, uint64_t(channels) * 16, vk::MemoryUse::Device, "channel stats");
}

GramAccumulator::~GramAccumulator() = default;

const vk::Kernel& GramAccumulator::gram_kernel(ActivationType t) {
  const int i = t == ActivationType::F16;
  if (!gram_[i])
    gram_[i] = std::make_unique<vk::Kernel>(
        ctx_, vk::KernelDesc{"gram_accumulate", 3, sizeof(ChunkPush), {wg_, 16u, uint32_t(i), 64u}});
  return *gram_[i];
}

const vk::Kernel& GramAccumulator::registers_kernel(ActivationType t) {
  const int i = t == ActivationType::F16;
  if (!registers_[i])
    registers_[i] = std::make_unique<vk::Kernel>(
        ctx_, vk::KernelDesc{"gram_registers", 3, sizeof(ChunkPush), {64u, 4u, 2u, uint32_t(i), 128u}});
  return *registers_[i];
}

const vk::Kernel& GramAccumulator::stats_kernel(ActivationType t) {
  const int i = t == ActivationType::F16;
  if (!stats_k_[i])
    stats_k_[i] = std::make_unique<vk::Kernel>(
        ctx_, vk::KernelDesc{"channel_stats", 2, sizeof(ChunkPush), {kStatsWg, uint32_t(i), 64u}});
  return *stats_k_[i];
}

void GramAccumulator::reset(vk::Stream& s) {
  s.fill_zero(s_hi_);
  s.fill_zero(s_lo_);
  s.fill_zero(stats_);
  s.barrier();
  tokens_ = 0;
}

void GramAccumulator::accumulate(vk::Stream& s, const vk::Buffer& x, uint32_t tokens, ActivationType type,
                                 uint64_t x_offset) {
  if (tokens == 0) return;
  const uint64_t elem = type == ActivationType::F16 ? 2 : 4;
  // fp16 is read as packed 32-bit words: check the extent in bytes against the buffer.
  require_matrix_fits("gram_accumulate", "X", x, x_offset, tokens, n_, n_, elem);
  // The register-blocked CPU form reads 4 channels at a time: it needs n and the offset 4-aligned.
  const bool registers = cpu_variant_ && n_ % 4 == 0 && x_offset % 4 == 0;
  const vk::Kernel& gk = registers ? registers_kernel(type) : gram_kernel(type);
  const vk::Kernel& sk = stats_kernel(type);
  uint32_t gx = 0, gy = 1;
  if (registers) {
    gx = register_block_workgroups(n_, gk.desc().spec);
  } else {
    const uint32_t tile = gk.desc().spec[0] * 4;
    gx = gy = (n_ + tile - 1) / tile;
  }
  for (uint32_t t0 = 0; t0 < tokens; t0 += kChunkTokens) {
    const uint32_t count = std::min(kChunkTokens, tokens - t0);
    const ChunkPush push{n_, count, uint32_t(x_offset + uint64_t(t0) * n_)};
    s.dispatch(gk, {&x, &s_hi_, &s_lo_}, push, gx, gy);
    s.dispatch(sk, {&x, &stats_}, push, (n_ + kStatsWg - 1) / kStatsWg);
    s.barrier();  // the next chunk reads and writes the same accumulators
  }
  tokens_ += tokens;
}

void GramAccumulator::finalize(vk::Stream& s, vk::Buffer& h) {
  if (tokens_ == 0) throw Error("gram_accumulate: finalize() before any token was accumulated");
  const uint64_t count = uint64_t(n_) * n_;
  require_matrix_fits("gram_finalize", "H", h, 0, n_, n_, n_, 4);
  if (!finalize_)
    finalize_ = std::make_unique<vk::Kernel>(ctx_, vk::KernelDesc{"gram_finalize", 3, sizeof(FinalizePush), {kFinalizeWg}});
  const FinalizePush push{uint32_t(count), float(2.0 / double(tokens_))};
  s.dispatch(*finalize_, {&s_hi_, &s_lo_, &h}, push, uint32_t((count + kFinalizeWg - 1) / kFinalizeWg));
  s.barrier();
}

std::vector<double> GramAccumulator::hessian_host() const {
  const size_t count = size_t(n_) * n_;
  auto hi = vk::download_all<float>(ctx_, s_hi_, count);
  auto lo = vk::download_all<float>(ctx_, s_lo_, count);
  std::vector<double> h(count);
  const double scale = tokens_ ? 2.0 / double(tokens_) : 0.0;
  for (size_t i = 0; i < count; ++i) h[i] = scale * (double(hi[i]) - double(lo[i]));
  return h;
}

ChannelStats GramAccumulator::channel_stats_host() const {
  auto st = vk::download_all<float>(ctx_, stats_, size_t(n_) * 4);
  ChannelStats c;
  c.tokens = tokens_;
  c.mean_abs.resize(n_);
  c.mean_sq.resize(n_);
  const double inv = tokens_ ? 1.0 / double(tokens_) : 0.0;
  for (uint32_t j = 0; j < n_; ++j) {
    c.mean_abs[j] = (double(st[j]) - double(st[n_ + j])) * inv;
    c.mean_sq[j] = (double(st[2 * n_ + j]) - double(st[3 * n_ + j])) * inv;
  }
  return c;
}

}  // namespace vkq::kernels
