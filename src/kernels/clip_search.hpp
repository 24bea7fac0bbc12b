// Host wrapper of shaders/clip_search.comp (ALGORITHMS.md §3 "scale/clip search", §4 GS): per
// (row, group) of T, the best of the candidate ranges shrunk by (1 − c·step), c = 0 … candidates − 1,
// then widened by (1 + e·step), e = 1 … expand (with `about_min`, Q4_1/Q5_1 ranges also scaled about the
// group's min), each (with `refit`) followed by its least-squares refit,
// scored by Δᵀ H̃_gg Δ (full block) or Σ_j H̃_jj Δ_j² (diagonal); the first smallest loss wins, as
// ref::clip_search_params. Params come out in the layout of kernels::Rtn (vec4 per (row, group)),
// ready for Rtn::run_with_params. T and H̃ in the original column order (groups are contiguous there).
// Groups of ≤ 32 columns (GGUF blocks, small INT groups) run shaders/clip_search_small.comp, which
// shares each group column's H̃ block among the rows; larger groups run the general shader.
#pragma once

#include <cstdint>
#include <memory>

#include "reference/layer_spec.hpp"
#include "vk/buffer.hpp"
#include "vk/context.hpp"
#include "vk/kernel.hpp"
#include "vk/stream.hpp"

namespace vkq::kernels {

struct ClipSearchShape {
  uint32_t m = 0, n = 0;
  uint32_t ldt = 0;       // row stride of T; 0: packed (n)
  uint64_t t_offset = 0;  // first element of T
};

class ClipSearch {
 public:
  // Throws vkq::Error for an invalid grid or clip options (as ref::validate_clip).
  ClipSearch(vk::Context& ctx, const ref::GridSpec& spec, const ref::ClipOptions& clip);
  ~ClipSearch();
  // params (m × groups vec4) from T (m × n) and H̃ (n × n fp32); `scratch` holds m × n floats
  // (the full-block score keeps each candidate's Δ there; unused by the diagonal score).
  void run(vk::Stream& s, const vk::Buffer& t, const vk::Buffer& h_reg, vk::Buffer& scratch, vk::Buffer& params,
           const ClipSearchShape& shape);

 private:
  vk::Context& ctx_;
  ref::GridSpec spec_;
  ref::ClipOptions clip_;
  uint32_t wg_ = 64;
  uint32_t shared_g_ = 1024;
  std::unique_ptr<vk::Kernel> kernel_;        // any group size, built on first use
  std::unique_ptr<vk::Kernel> small_kernel_;  // groups of ≤ 32 columns, built on first use
};

}  // namespace vkq::kernels
