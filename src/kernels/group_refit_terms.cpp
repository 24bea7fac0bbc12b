#include "kernels/group_refit_terms.hpp"

#include <algorithm>
#include <string>

#include "kernels/shape_check.hpp"

namespace vkq::kernels {

namespace {
struct Push {
  uint32_t rows, n, group, groups, b, ones_row, with_min;
};
}  // namespace

GroupRefitTerms::GroupRefitTerms(vk::Context& ctx, Gemm& gemm) : gemm_(gemm) {
  while (wg_ > ctx.probe().max_workgroup_invocations || wg_ > ctx.probe().max_workgroup_size[0]) wg_ /= 2;
  kernel_ = std::make_unique<vk::Kernel>(ctx, vk::KernelDesc{"group_refit_terms", 5, sizeof(Push), {wg_}});
}

GroupRefitTerms::~GroupRefitTerms() = default;

void GroupRefitTerms::run(vk::Stream& s, const vk::Buffer& h, const vk::Buffer& u, vk::Buffer& z, vk::Buffer& ss,
                          vk::Buffer& sm, vk::Buffer& ms, const GroupRefitShape& sh) {
  if (sh.rows == 0 || sh.n == 0) return;
  if (sh.group == 0) throw Error("group_refit_terms: group of 0 columns");
  if (sh.ones_row >= sh.rows)
    throw Error("group_refit_terms: the ones row " + std::to_string(sh.ones_row) + " is not among the " +
                std::to_string(sh.rows) + " rows");
  const uint32_t groups = sh.groups();
  require_matrix_fits("group_refit_terms", "H", h, 0, sh.n, sh.n, sh.n, 4);
  require_matrix_fits("group_refit_terms", "U", u, 0, sh.rows, sh.n, sh.n, 4);
  require_matrix_fits("group_refit_terms", "Z", z, 0, sh.rows, sh.n, sh.n, 4);
  const uint64_t per_row = uint64_t(groups) * groups;
  require_matrix_fits("group_refit_terms", "ss", ss, 0, sh.rows, per_row, per_row, 4);
  if (sh.with_min) {
    require_matrix_fits("group_refit_terms", "sm", sm, 0, sh.rows, per_row, per_row, 4);
    require_matrix_fits("group_refit_terms", "ms", ms, 0, sh.rows, per_row, per_row, 4);
  }
  const uint64_t invocations = uint64_t(sh.rows) * groups;
  if (invocations > UINT32_MAX) throw Error("group_refit_terms: " + std::to_string(invocations) + " row-groups; split the rows");
  for (uint32_t b = 0; b < groups; ++b) {
    const uint32_t cols = std::min(sh.group, sh.n - b * sh.group);
    GemmShape gs;  // Z = U[:, b] · H̃[:, b]ᵀ, i.e. Z_rj = Σ_{l∈b} u_rl H̃_jl
    gs.m = sh.rows, gs.n = sh.n, gs.k = cols;
    gs.lda = sh.n, gs.ldb = sh.n;
    gs.a_offset = uint64_t(b) * sh.group, gs.b_offset = uint64_t(b) * sh.group;
    gemm_.run(s, u, h, z, gs);
    s.barrier();
    const Push push{sh.rows, sh.n, sh.group, groups, b, sh.ones_row, sh.with_min ? 1u : 0u};
    s.dispatch(*kernel_, {&z, &u, &ss, &sm, &ms}, push, uint32_t((invocations + wg_ - 1) / wg_));
    s.barrier();  // the next gemm overwrites Z
  }
}

}  // namespace vkq::kernels
