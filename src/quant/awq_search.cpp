#include "quant/awq_search.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "kernels/gemm.hpp"
#include "kernels/row_quadratic_form.hpp"
#include "kernels/rtn.hpp"
#include "kernels/scale_columns.hpp"
#include "kernels/shape_check.hpp"
#include "vk/stream.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::quant {

std::vector<double> awq_channel_scales(const std::vector<double>& channel_mean_abs) {
  if (channel_mean_abs.empty()) throw Error("AWQ scale search: no channel statistics (mean|x|)");
  double mx = 0;
  for (size_t j = 0; j < channel_mean_abs.size(); ++j) {
    const double a = channel_mean_abs[j];
    if (!std::isfinite(a) || a < 0)
      throw Error("AWQ scale search: mean|x| of channel " + std::to_string(j) + " is " + std::to_string(a));
    mx = std::max(mx, a);
  }
  if (!(mx > 0)) throw Error("AWQ scale search: every channel has mean|x| = 0");
  std::vector<double> s(channel_mean_abs.size());
  double lo = mx;
  for (size_t j = 0; j < s.size(); ++j) {
    s[j] = std::max(channel_mean_abs[j], 1e-4 * mx);  // a dead channel must not get scale 0
    lo = std::min(lo, s[j]);
  }
  const double norm = std::sqrt(mx * lo);  // scales straddle 1
  for (double& v : s) v /= norm;
  return s;
}

AwqSearchResult awq_scale_search(vk::Context& ctx, const std::vector<AwqLayerBuffers>& layers, uint32_t n,
                                 const vk::Buffer& h_reg, const std::vector<double>& channel_mean_abs,
                                 const ref::GridSpec& spec, size_t n_grid) {
  kernels::validate_grid_spec("AWQ scale search", spec, n);
  if (layers.empty()) throw Error("AWQ scale search: no layers given");
  if (n_grid == 0) throw Error("AWQ scale search: n_grid must be >= 1");
  if (channel_mean_abs.size() != n)
    throw Error("AWQ scale search: " + std::to_string(channel_mean_abs.size()) + " channel statistics for n = " +
                std::to_string(n));
  kernels::require_matrix_fits("AWQ scale search", "H", h_reg, 0, n, n, n, 4);
  uint32_t max_rows = 0;
  uint64_t total_rows = 0;
  for (const auto& l : layers) {
    if (!l.weights) throw Error("AWQ scale search: a layer has no weights");
    kernels::require_matrix_fits("AWQ scale search", "W", *l.weights, 0, l.rows, n, n, 4);
    if (l.target) kernels::require_matrix_fits("AWQ scale search", "T", *l.target, 0, l.rows, n, n, 4);
    max_rows = std::max(max_rows, l.rows);
    total_rows += l.rows;
  }
  const std::vector<double> s = awq_channel_scales(channel_mean_abs);
  AwqSearchResult r;
  if (max_rows == 0) {
    for (size_t c = 0; c < n_grid; ++c) {
      r.exponents.push_back(double(c) / double(n_grid));
      r.losses.push_back(0.0);
    }
    r.scales.assign(n, 1.0);
    return r;
  }

  // Scratch reused by every (candidate, layer): barriers order the reuse within one stream.
  const uint32_t groups = kernels::grid_groups_per_row(spec, n);
  const uint64_t mat_bytes = uint64_t(max_rows) * n * 4;
  vk::Buffer scaled(ctx, mat_bytes, vk::MemoryUse::Device, "awq W diag(s^a)");
  vk::Buffer quant(ctx, mat_bytes, vk::MemoryUse::Device, "awq Q, then Q/s^a - T");
  vk::Buffer grad(ctx, mat_bytes, vk::MemoryUse::Device, "awq (Q/s^a - T) H");
  vk::Buffer codes(ctx, mat_bytes, vk::MemoryUse::Device, "awq codes");
  vk::Buffer params(ctx, uint64_t(max_rows) * groups * 16, vk::MemoryUse::Device, "awq params");
  vk::Buffer row_loss(ctx, n_grid * total_rows * 4, vk::MemoryUse::Device, "awq row losses");

  std::vector<std::vector<double>> powers(n_grid, std::vector<double>(n));
  std::vector<vk::Buffer> pow_buf;
  for (size_t c = 0; c < n_grid; ++c) {
    const double a = double(c) / double(n_grid);
    std::vector<float> f(n);
    for (uint32_t j = 0; j < n; ++j) {
      powers[c][j] = std::pow(s[j], a);  // exactly 1 at a = 0
      f[j] = float(powers[c][j]);
    }
    pow_buf.push_back(vk::upload_new(ctx, f, "awq s^a"));
  }

  kernels::Gemm gemm(ctx);
  kernels::Rtn rtn(ctx, spec);
  kernels::ColumnScale scale(ctx);
  kernels::RowQuadraticForm rows_form(ctx);
  vk::Stream st(ctx);
  for (size_t c = 0; c < n_grid; ++c) {
    uint64_t row0 = c * total_rows;
    for (const auto& l : layers) {
      if (l.rows == 0) continue;
      const vk::Buffer& target = l.target ? *l.target : *l.weights;
      kernels::ColumnScaleShape cs;
      cs.m = l.rows, cs.n = n;
      st.copy(*l.weights, scaled, uint64_t(l.rows) * n * 4);
      st.barrier();
      scale.run(st, scaled, pow_buf[c], cs);  // W diag(s^a)
      st.barrier();
      kernels::RtnShape rs;
      rs.m = l.rows, rs.n = n;
      rtn.run(st, scaled, params, codes, quant, rs);  // grid(W diag(s^a))
      st.barrier();
      cs.divide = true;
      scale.run_minus(st, quant, pow_buf[c], target, cs);  // E = Ŵ(a) − T
      st.barrier();
      kernels::GemmShape gs;
      gs.m = l.rows, gs.n = n, gs.k = n;  // G = E H̃ᵀ = E H̃ (H̃ symmetric; the NT layout is the fastest)
      gemm.run(st, quant, h_reg, grad, gs);
      st.barrier();
      kernels::RowDotShape rd;
      rd.m = l.rows, rd.n = n, rd.r_offset = row0;
      rows_form.run(st, grad, quant, row_loss, rd);  // (t − q) H̃ (t − q)ᵀ per row
      st.barrier();
      row0 += l.rows;
    }
  }
  st.submit_and_wait();
  const auto losses = vk::download_all<float>(ctx, row_loss, n_grid * total_rows);
  for (size_t c = 0; c < n_grid; ++c) {
    double loss = 0;
    for (uint64_t i = 0; i < total_rows; ++i) loss += double(losses[c * total_rows + i]);
    if (!std::isfinite(loss))
      throw Error("AWQ scale search: non-finite loss at a = " + std::to_string(double(c) / double(n_grid)) +
                  " (non-finite weights, target or H?)");
    r.exponents.push_back(double(c) / double(n_grid));
    r.losses.push_back(loss);
    if (c == 0 || loss < r.best_loss) {
      r.best = c;
      r.best_loss = loss;
      r.best_exponent = r.exponents.back();
      r.scales = powers[c];
    }
  }
  return r;
}

}  // namespace vkq::quant
