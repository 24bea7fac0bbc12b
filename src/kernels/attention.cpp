#include "kernels/attention.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "kernels/shape_check.hpp"

namespace vkq::kernels {

namespace {
struct Push {
  uint32_t tokens, heads, kv_heads, head_dim, q_off, q_stride, k_off, v_off, kv_stride, o_off, o_stride, kv_rows;
  float scale;
};
constexpr uint32_t kMaxWg = 64;
constexpr uint32_t kLanesPerWorkgroup = 64;  // LanePerRow
// LanePerRow: tokens per invocation, so each key/value row loaded serves that many queries; fewer for
// large heads, whose R·head_dim query and accumulator values each invocation holds.
uint32_t tokens_per_lane(uint32_t hd4) { return std::clamp(32u / hd4, 1u, 8u); }
constexpr uint32_t kSmallHeadDim = 16;      // Auto: heads up to this size take LanePerRow on any device
constexpr uint32_t kMaxHeadDim = 1024;

// Lanes per workgroup: a power of two <= 64 whose shared merge buffers (a vec4 accumulator row
// per lane plus two floats) fit in 16 KiB, the Vulkan minimum of maxComputeSharedMemorySize.
uint32_t workgroup_for(uint32_t hd4, uint32_t shared_bytes) {
  const uint32_t budget = std::min<uint32_t>(shared_bytes, 16384);
  uint32_t wg = kMaxWg;
  while (wg > 1 && wg * (hd4 * 16 + 8) > budget) wg /= 2;
  return wg;
}
}  // namespace

std::vector<KeyRange> causal_ranges(const std::vector<uint32_t>& lengths) {
  std::vector<KeyRange> r;
  uint32_t start = 0;
  for (uint32_t len : lengths) {
    for (uint32_t i = 0; i < len; ++i) r.push_back({start, start + i + 1});
    start += len;
  }
  return r;
}

Attention::Attention(vk::Context& ctx, RowForm form) : ctx_(ctx), form_(form) {}
Attention::~Attention() = default;

bool Attention::lane_per_row(uint32_t head_dim) const {
  return kernels::lane_per_row(form_, ctx_.probe()) || (form_ == RowForm::Auto && head_dim <= kSmallHeadDim);
}

const vk::Kernel& Attention::kernel(uint32_t head_dim, bool vec4) {
  const uint32_t hd4 = (head_dim + 3) / 4;
  const bool rows = lane_per_row(head_dim);
  auto& k = kernels_[(uint64_t(hd4) * 2 + vec4) * 2 + rows];
  if (k) return *k;
  if (rows) {
    const uint32_t wg = std::min(kLanesPerWorkgroup, ctx_.probe().max_workgroup_invocations);
    k = std::make_unique<vk::Kernel>(
        ctx_, vk::KernelDesc{"attention_rows", 8, sizeof(Push), {wg, hd4, vec4 ? 1u : 0u, tokens_per_lane(hd4)}});
  } else {
    const uint32_t wg = workgroup_for(hd4, ctx_.probe().max_shared_memory);
    k = std::make_unique<vk::Kernel>(ctx_, vk::KernelDesc{"attention", 8, sizeof(Push), {wg, hd4, vec4 ? 1u : 0u}});
  }
  return *k;
}

void Attention::run(vk::Stream& s, const vk::Buffer& q, const vk::Buffer& k, const vk::Buffer& v, vk::Buffer& out,
                    const vk::Buffer& ranges, const AttentionShape& sh) {
  if (sh.tokens == 0) return;
  if (sh.heads == 0 || sh.kv_heads == 0 || sh.head_dim == 0)
    throw Error("attention: heads, kv_heads and head_dim must be positive");
  if (sh.heads % sh.kv_heads != 0)
    throw Error("attention: " + std::to_string(sh.heads) + " query heads are not a multiple of " +
                std::to_string(sh.kv_heads) + " kv heads");
  if (sh.head_dim > kMaxHeadDim)
    throw Error("attention: head size " + std::to_string(sh.head_dim) + " above the supported " +
                std::to_string(kMaxHeadDim));
  const uint32_t qw = sh.heads * sh.head_dim, kvw = sh.kv_heads * sh.head_dim;
  const uint32_t qs = sh.q_stride ? sh.q_stride : qw, kvs = sh.kv_stride ? sh.kv_stride : kvw,
                 os = sh.o_stride ? sh.o_stride : qw;
  require_matrix_fits("attention", "q", q, sh.q_off, sh.tokens, qw, qs, 4);
  require_matrix_fits("attention", "k", k, sh.k_off, sh.kv_rows, kvw, kvs, 4);
  require_matrix_fits("attention", "v", v, sh.v_off, sh.kv_rows, kvw, kvs, 4);
  require_matrix_fits("attention", "out", out, sh.o_off, sh.tokens, qw, os, 4);
  require_matrix_fits("attention", "ranges", ranges, 0, sh.tokens, 2, 2, 4);
  if (uint64_t(sh.tokens) * sh.heads > UINT32_MAX) throw Error("attention: too many (token, head) pairs");
  const Push push{sh.tokens, sh.heads, sh.kv_heads, sh.head_dim, sh.q_off, qs, sh.k_off, sh.v_off, kvs,
                  sh.o_off, os, sh.kv_rows, sh.scale != 0 ? sh.scale : float(1.0 / std::sqrt(double(sh.head_dim)))};
  // vec4 loads need every q/k/v row start aligned to 4 elements.
  const bool vec4 = sh.head_dim % 4 == 0 && sh.q_off % 4 == 0 && qs % 4 == 0 && sh.k_off % 4 == 0 &&
                    sh.v_off % 4 == 0 && kvs % 4 == 0;
  const vk::Kernel& kern = kernel(sh.head_dim, vec4);
  uint32_t groups = sh.tokens * sh.heads;  // WorkgroupPerRow: one (token, head) per workgroup
  if (lane_per_row(sh.head_dim)) {  // spec: {lanes per workgroup, hd4, vec4, tokens per lane}
    const uint64_t lanes = uint64_t((sh.tokens + kern.desc().spec[3] - 1) / kern.desc().spec[3]) * sh.heads;
    groups = uint32_t((lanes + kern.desc().spec[0] - 1) / kern.desc().spec[0]);
  }
  s.dispatch(kern, {&q, &k, &v, &out, &ranges, &q, &k, &v}, push, groups);
}

}  // namespace vkq::kernels
