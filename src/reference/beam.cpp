// ALGORITHMS.md §4.5 — beam search of width K over the error-feedback sweep (choices in beam.hpp).
#include "reference/beam.hpp"

#include <algorithm>
#include <cstdint>
#include <string>

#include "reference/error_feedback.hpp"
#include "reference/grid.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::ref {
namespace {

struct Beam {
  std::vector<double> w;        // row in processing order, error-updated
  std::vector<double> e_block;  // scaled errors of the current block
  std::vector<int32_t> codes;   // processing order
  double loss = 0;
};

struct Candidate {
  double score;   // sort key: loss, never below the parent's rounding choice
  double loss;    // the actual accumulated loss
  size_t parent;
  int rank;       // 0 = the grid's rounding choice, 1 = any other code
  int32_t code;
};

bool before(const Candidate& a, const Candidate& b) {
  if (a.score != b.score) return a.score < b.score;
  if (a.parent != b.parent) return a.parent < b.parent;
  if (a.rank != b.rank) return a.rank < b.rank;
  return a.code < b.code;
}

}  // namespace

SweepResult beam_quantize(const SweepProblem& pb, const SweepOptions& opt, const std::vector<GroupParams>& static_params,
                          size_t width) {
  if (width == 0) throw vkq::Error("beam search: width K = 0");
  if (!opt.static_groups) throw vkq::Error("beam search needs static groups (params fixed from T before the search)");
  validate_sweep(pb, opt, static_params);
  const size_t m = pb.rows, n = pb.cols, g = group_size(opt.grid, n), ng = groups_per_row(opt.grid, n);
  const size_t bsz = std::min(opt.block, n);
  const CodeRange range = code_range(opt.grid);

  SweepResult r;
  r.rows = m;
  r.cols = n;
  r.groups_per_row = ng;
  r.params = static_params;
  r.codes.resize(m * n);
  r.dequantized.resize(m * n);
  r.row_loss.resize(m);
  r.g_idx.resize(n);
  for (size_t j = 0; j < n; ++j) r.g_idx[j] = uint32_t(j / g);

  std::vector<Beam> beams, next;
  std::vector<Candidate> cands;
  for (size_t i = 0; i < m; ++i) {
    beams.assign(1, Beam{std::vector<double>(n), std::vector<double>(bsz, 0.0), std::vector<int32_t>(n, 0), 0.0});
    size_t greedy = 0;  // the beam that has followed the rounding choice at every column
    for (size_t p = 0; p < n; ++p) beams[0].w[p] = pb.target[i * n + pb.order[p]];
    for (size_t i1 = 0; i1 < n; i1 += bsz) {
      const size_t i2 = std::min(i1 + bsz, n);
      for (size_t p = i1; p < i2; ++p) {
        const GroupParams& gp = static_params[i * ng + pb.order[p] / g];
        const double d = pb.u[p * n + p];
        cands.clear();
        for (size_t b = 0; b < beams.size(); ++b) {
          const double x = beams[b].w[p];
          const int32_t cr = quantize_value(x, gp, opt.grid);
          const double lr = beams[b].loss + column_loss(x - dequantize_code(cr, gp, opt.grid), d);
          cands.push_back({lr, lr, b, 0, cr});
          for (int32_t c = range.lo; c <= range.hi; ++c) {
            if (c == cr) continue;
            const double l = beams[b].loss + column_loss(x - dequantize_code(c, gp, opt.grid), d);
            cands.push_back({std::max(l, lr), l, b, 1, c});
          }
        }
        const size_t keep = std::min(width, cands.size());
        Candidate greedy_child{};
        for (const Candidate& c : cands)
          if (c.parent == greedy && c.rank == 0) greedy_child = c;
        std::partial_sort(cands.begin(), cands.begin() + std::ptrdiff_t(keep), cands.end(), before);
        greedy = keep;
        for (size_t k = 0; k < keep; ++k)
          if (cands[k].parent == greedy_child.parent && cands[k].rank == 0) greedy = k;
        if (greedy == keep) {  // pushed out: it takes the last slot, which keeps the order sorted
          greedy = keep - 1;
          cands[greedy] = greedy_child;
        }
        next.resize(keep);
        for (size_t k = 0; k < keep; ++k) {
          const Candidate& c = cands[k];
          Beam& nb = next[k];
          nb = beams[c.parent];
          const double diff = nb.w[p] - dequantize_code(c.code, gp, opt.grid);
          nb.loss = c.loss;
          nb.e_block[p - i1] = diff / d;
          feedback_in_block(nb.w.data(), p, i2, nb.e_block[p - i1], pb.u, n);
          nb.codes[p] = c.code;
        }
        beams.swap(next);
      }
      for (Beam& b : beams) feedback_tail(b.w.data(), i1, i2, b.e_block.data(), pb.u, n);
    }
    size_t best = 0;
    for (size_t b = 1; b < beams.size(); ++b)
      if (beams[b].loss < beams[best].loss) best = b;
    const Beam& bb = beams[best];
    for (size_t p = 0; p < n; ++p) {
      const size_t col = pb.order[p];
      r.codes[i * n + col] = bb.codes[p];
      r.dequantized[i * n + col] = dequantize_code(bb.codes[p], static_params[i * ng + col / g], opt.grid);
    }
    r.row_loss[i] = bb.loss;
  }
  return r;
}

}  // namespace vkq::ref
