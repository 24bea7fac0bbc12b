// ALGORITHMS.md §4 GBS — greedy successive rounding with blocked error feedback (choices in gptq.hpp).
#include "reference/gptq.hpp"

#include <algorithm>
#include <string>

#include "reference/error_feedback.hpp"
#include "reference/grid.hpp"
#include "reference/scale_search.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::ref {
namespace {

// Params of the dynamic group starting at processing position p, from the row as an unblocked
// sweep would hold it now.
GroupParams dynamic_group_params(const SweepProblem& pb, const SweepOptions& opt, const std::vector<double>& w,
                                 size_t p, size_t i1, size_t i2, const std::vector<double>& e_block, size_t g) {
  const size_t n = pb.cols, len = std::min(g, n - p);
  std::vector<double> vals(len);
  for (size_t k = 0; k < len; ++k)
    vals[k] = p + k < i2 ? w[p + k] : pending_value(w.data(), p + k, i1, p, e_block.data(), pb.u, n);
  if (opt.clip.enabled) return clip_search_group(vals.data(), len, pb.h_reg_perm + p * n + p, n, opt.grid, opt.clip);
  return params_for(vals.data(), len, opt.grid);
}

}  // namespace

void validate_sweep(const SweepProblem& pb, const SweepOptions& opt, const std::vector<GroupParams>& static_params) {
  const size_t n = pb.cols;
  validate_grid(opt.grid, n);
  if (!pb.target || !pb.u) throw vkq::Error("sweep: target T or factor U missing");
  if (opt.block == 0) throw vkq::Error("sweep: block size B = 0");
  if (pb.order.size() != n)
    throw vkq::Error("sweep: column order has " + std::to_string(pb.order.size()) + " entries for n = " + std::to_string(n));
  std::vector<bool> seen(n, false);
  for (size_t c : pb.order) {
    if (c >= n || seen[c]) throw vkq::Error("sweep: column order is not a permutation of 0 … n − 1 (entry " + std::to_string(c) + ")");
    seen[c] = true;
  }
  const size_t need = pb.rows * groups_per_row(opt.grid, n);
  if (opt.static_groups && static_params.size() != need)
    throw vkq::Error("sweep: static groups need " + std::to_string(need) + " group params, got " +
                     std::to_string(static_params.size()));
  if (!opt.static_groups && opt.clip.enabled) {
    validate_clip(opt.clip);
    if (!pb.h_reg_perm) throw vkq::Error("sweep: clip search with dynamic groups needs H̃ in processing order");
  }
}

SweepResult gptq_quantize(const SweepProblem& pb, const SweepOptions& opt, const std::vector<GroupParams>& static_params) {
  validate_sweep(pb, opt, static_params);
  const size_t m = pb.rows, n = pb.cols, g = group_size(opt.grid, n), ng = groups_per_row(opt.grid, n);
  const size_t bsz = std::min(opt.block, n);
  SweepResult r;
  r.rows = m;
  r.cols = n;
  r.groups_per_row = ng;
  r.codes.resize(m * n);
  r.dequantized.resize(m * n);
  r.row_loss.resize(m);
  r.g_idx.resize(n);
  for (size_t p = 0; p < n; ++p) r.g_idx[pb.order[p]] = uint32_t(opt.static_groups ? pb.order[p] / g : p / g);
  r.params = opt.static_groups ? static_params : std::vector<GroupParams>(m * ng);

  std::vector<double> w(n), e_block(bsz);
  for (size_t i = 0; i < m; ++i) {
    for (size_t p = 0; p < n; ++p) w[p] = pb.target[i * n + pb.order[p]];
    double loss = 0;
    for (size_t i1 = 0; i1 < n; i1 += bsz) {
      const size_t i2 = std::min(i1 + bsz, n);
      for (size_t p = i1; p < i2; ++p) {
        const size_t col = pb.order[p];
        if (!opt.static_groups && p % g == 0)
          r.params[i * ng + p / g] = dynamic_group_params(pb, opt, w, p, i1, i2, e_block, g);
        const GroupParams& gp = r.params[i * ng + (opt.static_groups ? col / g : p / g)];
        const int32_t code = quantize_value(w[p], gp, opt.grid);
        const double q = dequantize_code(code, gp, opt.grid);
        const double d = pb.u[p * n + p];
        const double diff = w[p] - q;
        loss += column_loss(diff, d);
        e_block[p - i1] = diff / d;
        feedback_in_block(w.data(), p, i2, e_block[p - i1], pb.u, n);
        r.codes[i * n + col] = code;
        r.dequantized[i * n + col] = q;
      }
      feedback_tail(w.data(), i1, i2, e_block.data(), pb.u, n);
    }
    r.row_loss[i] = loss;
  }
  return r;
}

}  // namespace vkq::ref
