// Host wrapper of shaders/attention.comp and attention_rows.comp: softmax(q kᵀ / sqrt(head_dim)) v per
// (token, head) over each token's own range of key rows, grouped-query (heads share kv_heads K/V heads).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "kernels/row_form.hpp"
#include "vk/buffer.hpp"
#include "vk/context.hpp"
#include "vk/kernel.hpp"
#include "vk/stream.hpp"

namespace vkq::kernels {

struct AttentionShape {
  uint32_t tokens = 0;                     // query rows
  uint32_t heads = 0, kv_heads = 0, head_dim = 0;
  uint32_t kv_rows = 0;                    // rows of K and V the ranges may address
  uint32_t q_off = 0, q_stride = 0;        // elements; stride 0: packed (heads * head_dim)
  uint32_t k_off = 0, v_off = 0, kv_stride = 0;  // stride 0: packed (kv_heads * head_dim)
  uint32_t o_off = 0, o_stride = 0;        // stride 0: packed (heads * head_dim)
  float scale = 0;                         // of q·k; 0 = 1/sqrt(head_dim)
};

// Per query token: the half-open range of key rows it attends to (causal: its sequence's first
// row up to itself). The shader clamps ranges to kv_rows, so a bad range cannot read out of bounds.
struct KeyRange {
  uint32_t begin = 0, end = 0;
};

// Causal ranges for consecutive sequences of the given lengths packed one after another.
std::vector<KeyRange> causal_ranges(const std::vector<uint32_t>& sequence_lengths);

// Forms (row_form.hpp): WorkgroupPerRow (attention.comp), a workgroup per (token, head), its lanes
// splitting the keys; LanePerRow (attention_rows.comp), an invocation per few tokens of one head, each
// key row loaded once for all of them. Auto also takes LanePerRow for heads of at most 16 on any device.
class Attention {
 public:
  explicit Attention(vk::Context& ctx, RowForm form = RowForm::Auto);
  ~Attention();
  // ranges: tokens KeyRange values (uint32 pairs) on the device; an empty range gives zeros.
  void run(vk::Stream& s, const vk::Buffer& q, const vk::Buffer& k, const vk::Buffer& v, vk::Buffer& out,
           const vk::Buffer& ranges, const AttentionShape& shape);

 private:
  bool lane_per_row(uint32_t head_dim) const;
  const vk::Kernel& kernel(uint32_t head_dim, bool vec4);
  vk::Context& ctx_;
  RowForm form_;
  std::map<uint64_t, std::unique_ptr<vk::Kernel>> kernels_;  // by (form, head_dim / 4 rounded up, vec4 loads)
};

}  // namespace vkq::kernels
