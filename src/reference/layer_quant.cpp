// ALGORITHMS.md §2–§5 — the layer-level solve: regularise, factor, shift the target, search the grid.
#include "reference/layer_quant.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "reference/beam.hpp"
#include "reference/cholesky.hpp"
#include "reference/grid.hpp"
#include "reference/gptq.hpp"
#include "reference/objective.hpp"
#include "reference/regularize.hpp"
#include "reference/rtn.hpp"
#include "reference/scale_search.hpp"
#include "reference/superblock.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::ref {
namespace {

void check_size(const char* what, size_t got, size_t want) {
  if (got != want)
    throw vkq::Error(std::string("quantize_layer: ") + what + " has " + std::to_string(got) + " entries, expected " +
                     std::to_string(want));
}

template <class T>
void check_finite(const char* what, const std::vector<T>& v, size_t cols) {
  for (size_t k = 0; k < v.size(); ++k)
    if (!std::isfinite(double(v[k])))
      throw vkq::Error(std::string("quantize_layer: ") + what + " has a non-finite value " + std::to_string(double(v[k])) +
                       " at row " + std::to_string(k / cols) + ", column " + std::to_string(k % cols));
}

void validate_options(const LayerQuantOptions& o, size_t n) {
  validate_grid(o.grid, n);
  if (o.block == 0) throw vkq::Error("quantize_layer: block size B = 0");
  if (!(o.damp >= 0) || !std::isfinite(o.damp)) throw vkq::Error("quantize_layer: damp δ = " + std::to_string(o.damp) + " must be finite and ≥ 0");
  if (!(o.lambda >= 0) || !std::isfinite(o.lambda)) throw vkq::Error("quantize_layer: λ = " + std::to_string(o.lambda) + " must be finite and ≥ 0");
  if (o.alpha_mode == AlphaMode::fixed && !(o.alpha >= 0 && o.alpha <= 1))
    throw vkq::Error("quantize_layer: fixed α = " + std::to_string(o.alpha) + " is outside [0, 1]");
  if (o.clip.enabled) validate_clip(o.clip);
  if (o.method == Method::beam) {
    if (o.beam_width == 0) throw vkq::Error("quantize_layer: beam width K = 0");
    if (!o.static_groups) throw vkq::Error("quantize_layer: beam search needs static_groups (params fixed from T)");
  }
  if (is_gguf(o.grid) && o.act_order && !o.static_groups && o.method != Method::rtn)
    throw vkq::Error("quantize_layer: GGUF formats have no g_idx, so act_order needs static_groups");
  validate_superblock_options(o, n);
  if (o.group_refits > 0 && o.superblock == SuperBlock::none && o.method != Method::rtn && !o.static_groups)
    throw vkq::Error("quantize_layer: group refits need static_groups (the sweep must keep the refitted params)");
}

// §3 K formats after the sweep: refit the super-block params from the swept codes, sweep again against
// them, and keep each row's better result (rows are independent given their params); stop early when
// no row improves.
template <class Sweep>
void refit_superblocks(LayerQuantResult& res, const std::vector<double>& t, const LayerQuantOptions& o,
                       const std::vector<double>& importance, Sweep sweep) {
  const size_t m = res.rows, n = res.cols;
  res.refit_row_loss_before = std::accumulate(res.row_loss.begin(), res.row_loss.end(), 0.0) / double(m);
  for (size_t pass = 0; pass < o.superblock_refits; ++pass) {
    SuperBlockSearch refit = superblock_refit(t.data(), res.codes.data(), m, n, o.superblock, importance.data(), res.superblocks);
    const size_t improved = adopt_better_rows(res, sweep(refit.params), refit, o.superblock);
    res.refit_rows += improved;
    if (improved == 0) break;
  }
}

// §3 other grids after the sweep: each row's group params refitted jointly from its swept codes
// (refit_rows_from_codes), swept again, each row keeping its better result; stops when none improves.
template <class Sweep>
void refit_rows_and_resweep(LayerQuantResult& res, const std::vector<double>& t, const LayerQuantOptions& o,
                        const std::vector<double>& h_reg, Sweep sweep) {
  const size_t m = res.rows, n = res.cols;
  res.refit_row_loss_before = std::accumulate(res.row_loss.begin(), res.row_loss.end(), 0.0) / double(m);
  for (size_t pass = 0; pass < o.group_refits; ++pass) {
    const std::vector<GroupParams> params = refit_rows_from_codes(t.data(), res.codes.data(), m, n, h_reg.data(), o.grid, res.params);
    const size_t improved = adopt_better_rows(res, sweep(params), [](size_t) {});
    res.refit_rows += improved;
    if (improved == 0) break;
  }
}

}  // namespace

double closed_form_alpha(const std::vector<double>& w, const std::vector<double>& q, const std::vector<double>& t,
                         const std::vector<double>& d, size_t m, size_t n, double coef) {
  if (coef == 0) return -1;
  double num = 0, den = 0;
  std::vector<double> wd(n);
  for (size_t i = 0; i < m; ++i) {
    std::fill(wd.begin(), wd.end(), 0.0);
    for (size_t k = 0; k < n; ++k) {
      const double wik = w[i * n + k];
      if (wik != 0)
        for (size_t j = 0; j < n; ++j) wd[j] += wik * d[k * n + j];
    }
    for (size_t j = 0; j < n; ++j) {
      num += (q[i * n + j] - w[i * n + j]) * wd[j];
      den += (t[i * n + j] - w[i * n + j]) / coef * wd[j];
    }
  }
  if (!(den > 0)) return -1;
  return std::clamp(num / den, 0.0, 1.0);
}

LayerQuantResult quantize_layer(const std::vector<float>& weights, size_t rows, size_t cols,
                                const std::vector<double>& gram, const LayerQuantOptions& options,
                                const std::vector<double>& cross_gram, const std::vector<double>& channel_mean_abs) {
  const size_t m = rows, n = cols;
  if (m == 0 || n == 0) throw vkq::Error("quantize_layer: empty layer (" + std::to_string(m) + " × " + std::to_string(n) + ")");
  validate_options(options, n);
  check_size("W", weights.size(), m * n);
  check_size("H", gram.size(), n * n);
  check_finite("W", weights, n);
  check_finite("H", gram, n);
  for (size_t j = 0; j < n; ++j)
    if (gram[j * n + j] < 0)
      throw vkq::Error("quantize_layer: H[" + std::to_string(j) + "][" + std::to_string(j) + "] = " +
                       std::to_string(gram[j * n + j]) + " < 0, not a Gram matrix");
  const bool use_d = !cross_gram.empty();
  if (use_d) {
    check_size("D", cross_gram.size(), n * n);
    check_finite("D", cross_gram, n);
  }
  if (!channel_mean_abs.empty()) check_size("mean|x|", channel_mean_abs.size(), n);
  const double coef = options.alpha_mode == AlphaMode::sampled ? 1.0 : options.alpha;
  if (coef != 0 && !use_d)  // never drop the asymmetric shift silently
    throw vkq::Error(std::string("quantize_layer: ") +
                     (options.alpha_mode == AlphaMode::sampled ? "sampled α" : "α = " + std::to_string(options.alpha)) +
                     " needs the cross-Gram D (none given)");

  // §4.1 dead columns, before μ and the regulariser (as GPTQ).
  std::vector<double> h = gram;
  const std::vector<size_t> dead = fix_dead_columns(h, n);
  std::vector<double> w(weights.begin(), weights.end());
  zero_columns(w, m, n, dead);
  std::vector<double> d = cross_gram;
  if (use_d) zero_columns(d, n, n, dead);

  // §2 regulariser and §4.3 factorisation in processing order, escalating δ on failure.
  const double mu = diag_mean(h, n);
  const std::vector<double> shat =
      options.lambda > 0 ? saliency_weights(options.saliency, h, n, channel_mean_abs) : std::vector<double>{};
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t(0));
  if (options.act_order && options.method != Method::rtn) order = act_order_permutation(h, n);
  const DampedCholesky f = factor_with_damping(n, options.damp, [&](double delta) {
    return permute_symmetric(regularized_gram(h, n, mu, delta, options.lambda, shat), n, order);
  });
  const std::vector<double> h_reg = regularized_gram(h, n, mu, f.delta, options.lambda, shat);  // original order

  // §2 shifted target; dead columns stay exactly zero.
  std::vector<double> t = (use_d && coef != 0) ? shifted_target(w, m, n, d, coef, f.l, order) : w;
  zero_columns(t, m, n, dead);

  LayerQuantResult res;
  res.rows = m;
  res.cols = n;
  res.groups_per_row = groups_per_row(options.grid, n);
  res.damp_used = f.delta;
  res.damping_retries = f.retries;
  for (size_t j : dead) res.dead_columns.push_back(uint32_t(j));

  const bool needs_static = options.method == Method::rtn || options.static_groups;
  std::vector<GroupParams> static_params;
  std::vector<double> importance;  // diag H̃, K formats only
  if (options.superblock != SuperBlock::none) {
    // §3 K formats: super-block parameters from T, each column weighted by its diag H̃ (the imatrix's role).
    importance.resize(n);
    for (size_t j = 0; j < n; ++j) importance[j] = h_reg[j * n + j];
    SuperBlockSearch sb = superblock_search(t.data(), m, n, options.superblock, importance.data());
    static_params = std::move(sb.params);
    res.superblocks = std::move(sb.blocks);
  } else if (needs_static) {
    static_params = static_group_params(t.data(), m, n, options.grid, options.clip, h_reg.data());
  }

  if (options.method == Method::rtn) {
    const EncodedMatrix e = encode_with_params(t.data(), m, n, options.grid, static_params);
    res.codes = e.codes;
    res.params = e.params;
    res.dequantized = decode_matrix(e, options.grid);
    const size_t g = group_size(options.grid, n);
    res.g_idx.resize(n);
    for (size_t j = 0; j < n; ++j) res.g_idx[j] = uint32_t(j / g);
    res.row_loss = rows_quadratic_loss(t.data(), res.dequantized.data(), m, n, h_reg.data());
  } else {
    SweepProblem pb;
    pb.target = t.data();
    pb.rows = m;
    pb.cols = n;
    pb.u = f.u.data();
    pb.h_reg_perm = f.h_reg.data();
    pb.order = order;
    SweepOptions so;
    so.grid = options.grid;
    so.static_groups = options.static_groups;
    so.block = options.block;
    so.clip = options.clip;
    auto sweep = [&](const std::vector<GroupParams>& params) {
      return options.method == Method::gptq ? gptq_quantize(pb, so, params)
                                            : beam_quantize(pb, so, params, options.beam_width);
    };
    SweepResult s = sweep(static_params);
    res.codes = std::move(s.codes);
    res.params = std::move(s.params);
    res.g_idx = std::move(s.g_idx);
    res.dequantized = std::move(s.dequantized);
    res.row_loss = std::move(s.row_loss);
    if (options.superblock != SuperBlock::none) refit_superblocks(res, t, options, importance, sweep);
    else if (options.group_refits > 0) refit_rows_and_resweep(res, t, options, h_reg, sweep);
  }
  res.loss = layer_loss(t.data(), res.dequantized.data(), m, n, gram.data());  // §6: the unregularised H
  if (use_d && coef != 0) res.alpha_star = closed_form_alpha(w, res.dequantized, t, d, m, n, coef);
  res.target = std::move(t);
  return res;
}

LayerQuantResult quantize_layer(const std::vector<float>& weights, size_t rows, size_t cols,
                                const std::vector<float>& gram, const LayerQuantOptions& options,
                                const std::vector<float>& cross_gram, const std::vector<float>& channel_mean_abs) {
  return quantize_layer(weights, rows, cols, std::vector<double>(gram.begin(), gram.end()), options,
                        std::vector<double>(cross_gram.begin(), cross_gram.end()),
                        std::vector<double>(channel_mean_abs.begin(), channel_mean_abs.end()));
}

}  // namespace vkq::ref
