#include "quant/group_refit.hpp"

#include <algorithm>

#include "kernels/rtn.hpp"
#include "reference/row_refit.hpp"
#include "vk/stream.hpp"

namespace vkq::quant {

namespace {
bool has_min(const ref::GridSpec& g) { return g.format == ref::GridFormat::Q4_1 || g.format == ref::GridFormat::Q5_1; }
}  // namespace

DeviceGroupRefit::DeviceGroupRefit(vk::Context& ctx, kernels::Gemm& gemm, kernels::GroupRefitTerms& terms,
                                   const ref::GridSpec& grid, const vk::Buffer& t, const vk::Buffer& h, uint32_t m,
                                   uint32_t n)
    : ctx_(ctx), terms_(terms), grid_(grid), h_(h), m_(m), n_(n),
      group_(kernels::grid_group_columns(grid, n)), groups_(kernels::grid_groups_per_row(grid, n)),
      with_min_(has_min(grid)) {
  vk::Buffer th(ctx, uint64_t(m) * n * 4, vk::MemoryUse::Device, "refit T H̃");
  vk::Stream s(ctx);
  kernels::GemmShape gs;
  gs.m = m, gs.n = n, gs.k = n;  // (T H̃ᵀ)_rj = Σ_l t_rl H̃_jl, the right-hand side's (H̃t)_j
  gemm.run(s, t, h, th, gs);
  s.submit_and_wait();
  th_ = vk::download_all<float>(ctx, th, size_t(m) * n);
}

std::vector<ref::GroupParams> DeviceGroupRefit::refit(const std::vector<int32_t>& codes,
                                                      const std::vector<ref::GroupParams>& current) {
  const uint32_t m = m_, n = n_, ng = groups_;
  const uint64_t per_row = uint64_t(ng) * ng;
  // Per chunk row: U and Z (n each) and the terms (1 or 3 per group pair); one more row holds the ones.
  const uint64_t row_bytes = (2 * uint64_t(n) + per_row * (with_min_ ? 3 : 1)) * 4;
  const uint32_t chunk = uint32_t(std::clamp<uint64_t>(chunk_bytes_ / row_bytes, 2, uint64_t(m) + 1) - 1);
  std::vector<ref::GroupParams> out = current;
  std::vector<ref::GroupParams> row_params(ng);
  std::vector<std::vector<double>> u(chunk);
  ref::RowRefitTerms terms;
  terms.groups = ng;
  terms.ss.resize(per_row);
  if (with_min_) terms.sm.resize(per_row), terms.ms.resize(per_row), terms.mm.resize(per_row);
  for (uint32_t r0 = 0; r0 < m; r0 += chunk) {
    const uint32_t rows = std::min(chunk, m - r0), all = rows + 1;  // the last row: all ones
    std::vector<float> uf(size_t(all) * n, 1.0f);
    for (uint32_t i = 0; i < rows; ++i) {
      u[i] = ref::unit_decoded_codes(codes.data() + size_t(r0 + i) * n, n, grid_, current.data() + size_t(r0 + i) * ng);
      std::copy(u[i].begin(), u[i].end(), uf.begin() + ptrdiff_t(size_t(i) * n));
    }
    vk::Buffer ub = vk::upload_new(ctx_, uf, "refit U");
    vk::Buffer z(ctx_, uint64_t(all) * n * 4, vk::MemoryUse::Device, "refit Z");
    vk::Buffer ss(ctx_, all * per_row * 4, vk::MemoryUse::Device, "refit ss");
    vk::Buffer sm, ms;
    if (with_min_) {
      sm = vk::Buffer(ctx_, all * per_row * 4, vk::MemoryUse::Device, "refit sm");
      ms = vk::Buffer(ctx_, all * per_row * 4, vk::MemoryUse::Device, "refit ms");
    }
    vk::Stream s(ctx_);
    kernels::GroupRefitShape rs;
    rs.rows = all, rs.n = n, rs.group = group_, rs.ones_row = rows, rs.with_min = with_min_;
    terms_.run(s, h_, ub, z, ss, with_min_ ? sm : ss, with_min_ ? ms : ss, rs);
    s.submit_and_wait();
    const auto ssf = vk::download_all<float>(ctx_, ss, size_t(all) * per_row);
    std::vector<float> smf, msf;
    if (with_min_) {
      smf = vk::download_all<float>(ctx_, sm, size_t(rows) * per_row);
      msf = vk::download_all<float>(ctx_, ms, size_t(rows) * per_row);
      std::copy(ssf.begin() + ptrdiff_t(size_t(rows) * per_row), ssf.end(), terms.mm.begin());  // the ones row
    }
    for (uint32_t i = 0; i < rows; ++i) {
      const size_t r = size_t(r0) + i, o = size_t(i) * per_row;
      std::copy_n(ssf.begin() + ptrdiff_t(o), per_row, terms.ss.begin());
      if (with_min_) {
        std::copy_n(smf.begin() + ptrdiff_t(o), per_row, terms.sm.begin());
        std::copy_n(msf.begin() + ptrdiff_t(o), per_row, terms.ms.begin());
      }
      terms.bs.assign(ng, 0.0);
      if (with_min_) terms.bm.assign(ng, 0.0);
      const float* th = th_.data() + r * n;
      for (uint32_t j = 0; j < n; ++j) {
        terms.bs[j / group_] += u[i][j] * double(th[j]);
        if (with_min_) terms.bm[j / group_] += double(th[j]);
      }
      const ref::GroupParams* cur = current.data() + r * ng;
      if (ref::solve_row_refit(terms, u[i].data(), n, grid_, cur, row_params.data()))
        std::copy(row_params.begin(), row_params.end(), out.begin() + ptrdiff_t(r * ng));
    }
  }
  return out;
}

}  // namespace vkq::quant
