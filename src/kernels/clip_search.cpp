#include "kernels/clip_search.hpp"

#include <cmath>
#include <string>

#include "kernels/rtn.hpp"
#include "kernels/shape_check.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::kernels {

namespace {
constexpr uint32_t kSmallGroup = 32;  // clip_search_small.comp's SMALL_G
struct Push {
  uint32_t m, n, group, groups, ldt, t_off, candidates;
  float step;
  uint32_t expand, refit, about_min;
};
}  // namespace

ClipSearch::ClipSearch(vk::Context& ctx, const ref::GridSpec& spec, const ref::ClipOptions& clip)
    : ctx_(ctx), spec_(spec), clip_(clip) {
  validate_grid_spec("clip_search", spec, spec.format == ref::GridFormat::INT ? 1 : 32);
  if (clip.candidates < 1)
    throw Error("clip_search: candidates = " + std::to_string(clip.candidates) + ", need at least 1");
  if (!(clip.step >= 0) || !std::isfinite(clip.step))
    throw Error("clip_search: step = " + std::to_string(clip.step) + " must be finite and >= 0");
  if (clip.expand < 0) throw Error("clip_search: expand = " + std::to_string(clip.expand) + " must be >= 0");
  if (!(1.0 - (clip.candidates - 1) * clip.step > 0))
    throw Error("clip_search: step x (candidates - 1) = " + std::to_string((clip.candidates - 1) * clip.step) +
                " shrinks the range to nothing (must be < 1)");
  // A power of two within the device's limits: one workgroup per (row, group), or per (group, rows).
  while (wg_ > ctx.probe().max_workgroup_invocations || wg_ > ctx.probe().max_workgroup_size[0]) wg_ /= 2;
  // Δ (or the refit's codes) in shared memory for groups up to 1024 columns (4 KiB), within the
  // device's shared memory next to the vec4 reduction array and the group statistics.
  while (shared_g_ > 32 && (shared_g_ + 4 * wg_ + 16) * 4 > ctx.probe().max_shared_memory) shared_g_ /= 2;
}

ClipSearch::~ClipSearch() = default;

void ClipSearch::run(vk::Stream& s, const vk::Buffer& t, const vk::Buffer& h_reg, vk::Buffer& scratch,
                     vk::Buffer& params, const ClipSearchShape& sh) {
  if (sh.m == 0) return;
  validate_grid_spec("clip_search", spec_, sh.n);
  const uint32_t ldt = sh.ldt ? sh.ldt : sh.n;
  const uint32_t g = grid_group_columns(spec_, sh.n), groups = grid_groups_per_row(spec_, sh.n);
  if (uint64_t(sh.m) * sh.n > UINT32_MAX || uint64_t(sh.m) * groups * 4 > UINT32_MAX)
    throw Error("clip_search: " + std::to_string(sh.m) + " x " + std::to_string(sh.n) +
                " is above the 2^32 elements a shader can index; split the rows");
  require_matrix_fits("clip_search", "T", t, sh.t_offset, sh.m, sh.n, ldt, 4);
  require_matrix_fits("clip_search", "H", h_reg, 0, sh.n, sh.n, sh.n, 4);
  require_matrix_fits("clip_search", "scratch", scratch, 0, sh.m, sh.n, sh.n, 4);
  require_matrix_fits("clip_search", "params", params, 0, sh.m, uint64_t(groups) * 4, uint64_t(groups) * 4, 4);
  const Push push{sh.m, sh.n, g, groups, ldt, uint32_t(sh.t_offset), uint32_t(clip_.candidates), float(clip_.step),
                  uint32_t(clip_.expand), clip_.refit ? 1u : 0u, clip_.about_min ? 1u : 0u};
  const uint32_t full = clip_.score == ref::ClipScore::full_block ? 1u : 0u;
  if (g <= kSmallGroup) {
    if (!small_kernel_)
      small_kernel_ = std::make_unique<vk::Kernel>(
          ctx_, vk::KernelDesc{"clip_search_small", 3, sizeof(Push),
                               {wg_, uint32_t(spec_.format), uint32_t(spec_.bits), spec_.symmetric ? 1u : 0u, full}});
    s.dispatch(*small_kernel_, {&t, &h_reg, &params}, push, groups, (sh.m + wg_ - 1) / wg_);
    return;
  }
  if (!kernel_)
    kernel_ = std::make_unique<vk::Kernel>(
        ctx_, vk::KernelDesc{"clip_search", 4, sizeof(Push),
                             {wg_, uint32_t(spec_.format), uint32_t(spec_.bits), spec_.symmetric ? 1u : 0u, full,
                              shared_g_}});
  s.dispatch(*kernel_, {&t, &h_reg, &scratch, &params}, push, sh.m * groups);
}

}  // namespace vkq::kernels
