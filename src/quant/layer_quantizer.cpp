#include "quant/layer_quantizer.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "kernels/clip_search.hpp"
#include "kernels/gather_matrix.hpp"
#include "kernels/regularize_gram.hpp"
#include "kernels/gemm.hpp"
#include "kernels/group_refit_terms.hpp"
#include "kernels/row_quadratic_form.hpp"
#include "kernels/rtn.hpp"
#include "kernels/scale_columns.hpp"
#include "quant/gbs.hpp"
#include "quant/group_refit.hpp"
#include "quant/hessian_factor.hpp"
#include "quant/target.hpp"
#include "reference/row_refit.hpp"
#include "reference/superblock.hpp"
#include "vk/stream.hpp"

namespace vkq::quant {

namespace {

bool is_gguf_format(ref::GridFormat f) { return f != ref::GridFormat::INT; }

std::string fmt(double v) { return std::to_string(v); }

void check_finite(const std::string& name, const std::vector<float>& w, uint32_t cols) {
  for (size_t k = 0; k < w.size(); ++k)
    if (!std::isfinite(w[k]))
      throw Error(name + ": non-finite weight " + fmt(w[k]) + " at row " + std::to_string(k / cols) + ", column " +
                  std::to_string(k % cols));
}

// One GBS solve, its results brought to the host (the dequantized matrix also kept on the device).
struct SweepOnHost {
  std::vector<int32_t> codes;
  std::vector<ref::GroupParams> params;
  std::vector<float> dequantized;
  std::vector<uint32_t> g_idx;
  std::vector<double> row_loss;
  vk::Buffer dequantized_buffer;
};

SweepOnHost sweep_to_host(vk::Context& ctx, GbsSolver& gbs, const GbsProblem& pb, uint32_t m, uint32_t n) {
  vk::Stream s(ctx);
  GbsDeviceResult r = gbs.solve(s, pb);
  s.submit_and_wait();
  SweepOnHost out;
  out.codes = vk::download_all<int32_t>(ctx, r.codes, size_t(m) * n);
  out.params = kernels::params_from_device(vk::download_all<float>(ctx, r.params, size_t(m) * r.groups_per_row * 4));
  out.dequantized = vk::download_all<float>(ctx, r.dequantized, size_t(m) * n);
  out.g_idx = r.g_idx;
  const auto rl = vk::download_all<float>(ctx, r.row_loss, m);
  out.row_loss.assign(rl.begin(), rl.end());
  out.dequantized_buffer = std::move(r.dequantized);
  return out;
}

// §3 K formats, as ref::quantize_layer: refit the super-block params from the swept codes (host, float64),
// sweep again on the device, keep each row's better result. True when some row changed.
bool refit_superblocks(vk::Context& ctx, GbsSolver& gbs, GbsProblem pb, const std::vector<double>& td,
                       const std::vector<double>& importance, const ref::LayerQuantOptions& o, LayerQuantOutput& out) {
  const uint32_t m = out.rows, n = out.cols;
  out.refit_row_loss_before = std::accumulate(out.row_loss.begin(), out.row_loss.end(), 0.0) / double(m);
  for (size_t pass = 0; pass < o.superblock_refits; ++pass) {
    ref::SuperBlockSearch refit =
        ref::superblock_refit(td.data(), out.codes.data(), m, n, o.superblock, importance.data(), out.superblocks);
    const vk::Buffer params = vk::upload_new(ctx, kernels::params_to_device(refit.params, o.grid.format), out.name + " refit params");
    pb.static_params = &params;
    const size_t improved = ref::adopt_better_rows(out, sweep_to_host(ctx, gbs, pb, m, n), refit, o.superblock);
    out.refit_rows += improved;
    if (improved == 0) break;
  }
  return out.refit_rows > 0;
}

// §3 other grids, as ref::quantize_layer: refit each row's group params from its swept codes (the normal
// equations' rows × n² pieces on the device, each row's solve on the host in float64), sweep again on the
// device, keep each row's better result. True when some row changed.
bool refit_group_rows(vk::Context& ctx, GbsSolver& gbs, GbsProblem pb, DeviceGroupRefit& refitter,
                      const ref::LayerQuantOptions& o, LayerQuantOutput& out) {
  const uint32_t m = out.rows, n = out.cols;
  out.refit_row_loss_before = std::accumulate(out.row_loss.begin(), out.row_loss.end(), 0.0) / double(m);
  for (size_t pass = 0; pass < o.group_refits; ++pass) {
    const std::vector<ref::GroupParams> refit = refitter.refit(out.codes, out.params);
    const vk::Buffer params = vk::upload_new(ctx, kernels::params_to_device(refit, o.grid.format), out.name + " refit params");
    pb.static_params = &params;
    const size_t improved = ref::adopt_better_rows(out, sweep_to_host(ctx, gbs, pb, m, n), [](size_t) {});
    out.refit_rows += improved;
    if (improved == 0) break;
  }
  return out.refit_rows > 0;
}

}  // namespace

void validate_layer_options(const ref::LayerQuantOptions& o, uint32_t n) {
  kernels::validate_grid_spec("quantize_layer", o.grid, n);
  if (o.block == 0) throw Error("quantize_layer: block size B = 0");
  if (!(o.damp >= 0) || !std::isfinite(o.damp)) throw Error("quantize_layer: damp δ = " + fmt(o.damp) + " must be finite and ≥ 0");
  if (!(o.lambda >= 0) || !std::isfinite(o.lambda)) throw Error("quantize_layer: λ = " + fmt(o.lambda) + " must be finite and ≥ 0");
  if (o.alpha_mode == ref::AlphaMode::fixed && !(o.alpha >= 0 && o.alpha <= 1))
    throw Error("quantize_layer: fixed α = " + fmt(o.alpha) + " is outside [0, 1]");
  if (o.method == ref::Method::beam) {
    if (o.beam_width == 0) throw Error("quantize_layer: beam width K = 0");
    if (!o.static_groups) throw Error("quantize_layer: beam search needs static_groups (params fixed from T)");
  }
  if (is_gguf_format(o.grid.format) && o.act_order && !o.static_groups && o.method != ref::Method::rtn)
    throw Error("quantize_layer: GGUF formats have no g_idx, so act_order needs static_groups");
  ref::validate_superblock_options(o, n);
  if (o.group_refits > 0 && o.superblock == ref::SuperBlock::none && o.method != ref::Method::rtn && !o.static_groups)
    throw Error("quantize_layer: group refits need static_groups (the sweep must keep the refitted params)");
}

struct LayerQuantizer::Impl {
  vk::Context& ctx;
  HessianFactorizer factorizer;
  ShiftedTarget target;
  kernels::GatherMatrix gather;
  kernels::ColumnScale scale;
  kernels::Gemm gemm;
  kernels::RowQuadraticForm rqf;
  kernels::Rtn rtn;
  kernels::RegularizeGram diag;
  std::unique_ptr<kernels::ClipSearch> clip;
  std::unique_ptr<GbsSolver> gbs;
  std::unique_ptr<kernels::GroupRefitTerms> refit_terms;  // with --group-refits only

  Impl(vk::Context& c, const ref::LayerQuantOptions& o)
      : ctx(c), factorizer(c), target(c), gather(c), scale(c), gemm(c), rqf(c), rtn(c, o.grid), diag(c) {
    if (o.clip.enabled) clip = std::make_unique<kernels::ClipSearch>(c, o.grid, o.clip);
    if (o.group_refits > 0) refit_terms = std::make_unique<kernels::GroupRefitTerms>(c, gemm);
    if (o.method != ref::Method::rtn) {
      GbsOptions g;
      g.grid = o.grid;
      g.static_groups = o.static_groups;
      g.block = o.block;
      g.beam_width = o.method == ref::Method::beam ? o.beam_width : 1;
      gbs = std::make_unique<GbsSolver>(c, g);
    }
  }

  // ref::closed_form_alpha's two Frobenius products ⟨Q − W', W' D⟩ and ⟨T − W', W' D⟩/coef over these rows
  // (summed over a tensor's row tiles, α* = num/den clipped to [0, 1]): W' (dead columns zeroed) times D on
  // the device, the products in float64 on the host.
  struct AlphaTerms {
    double num = 0, den = 0;
  };
  AlphaTerms alpha_terms(const std::vector<float>& w, const std::vector<uint32_t>& dead, const vk::Buffer& d,
                         const vk::Buffer& t, const std::vector<float>& q, uint32_t m, uint32_t n, double coef) {
    std::vector<float> wz = w;
    for (uint32_t i = 0; i < m; ++i)
      for (uint32_t j : dead) wz[size_t(i) * n + j] = 0.0f;
    vk::Buffer wb = vk::upload_new(ctx, wz, "alpha* W'");
    vk::Buffer wd(ctx, uint64_t(m) * n * 4, vk::MemoryUse::Device, "alpha* W D");
    vk::Stream s(ctx);
    kernels::GemmShape gs;
    gs.m = m, gs.n = n, gs.k = n;
    gs.b_kmajor = true;  // D stored k × n: W' D, not W' Dᵀ
    gemm.run(s, wb, d, wd, gs);
    s.submit_and_wait();
    const auto wdh = vk::download_all<float>(ctx, wd, size_t(m) * n);
    const auto th = vk::download_all<float>(ctx, t, size_t(m) * n);
    AlphaTerms a;
    for (size_t k = 0; k < wdh.size(); ++k) {
      a.num += (double(q[k]) - wz[k]) * wdh[k];
      a.den += (double(th[k]) - wz[k]) / coef * wdh[k];
    }
    return a;
  }

  // Σ_j (E H)_ij E_ij per row with E = Q − T; q is overwritten by E.
  std::vector<double> row_losses(vk::Buffer& q, const vk::Buffer& t, const vk::Buffer& h, uint32_t m, uint32_t n) {
    vk::Buffer ones = vk::upload_new(ctx, std::vector<float>(n, 1.0f), "ones");
    vk::Buffer g(ctx, uint64_t(m) * n * 4, vk::MemoryUse::Device, "loss E·H");
    vk::Buffer r(ctx, uint64_t(m) * 4, vk::MemoryUse::Device, "loss per row");
    vk::Stream s(ctx);
    kernels::ColumnScaleShape cs;
    cs.m = m, cs.n = n;
    scale.run_minus(s, q, ones, t, cs);  // E = Q·1 − T
    s.barrier();
    kernels::GemmShape gs;
    gs.m = m, gs.n = n, gs.k = n;  // E·Hᵀ = E·H (H symmetric)
    gemm.run(s, q, h, g, gs);
    s.barrier();
    kernels::RowDotShape rs;
    rs.m = m, rs.n = n;
    rqf.run(s, g, q, r, rs);
    s.submit_and_wait();
    const auto rf = vk::download_all<float>(ctx, r, m);
    return {rf.begin(), rf.end()};
  }
};

namespace {
// Appends a row tile's result to the tensor's: per-row data in row order; what every tile shares (name,
// columns, groups, damping, dead columns) from the first.
void append_rows(LayerQuantOutput& whole, LayerQuantOutput&& part) {
  if (whole.rows == 0) {
    whole = std::move(part);
    return;
  }
  const double rows = double(whole.rows) + part.rows;
  whole.refit_row_loss_before =
      (whole.refit_row_loss_before * whole.rows + part.refit_row_loss_before * part.rows) / rows;
  whole.rows += part.rows;
  whole.refit_rows += part.refit_rows;
  const auto append = [](auto& to, auto& from) { to.insert(to.end(), from.begin(), from.end()); };
  append(whole.codes, part.codes);
  append(whole.params, part.params);
  append(whole.superblocks, part.superblocks);
  append(whole.dequantized, part.dequantized);
  append(whole.row_loss, part.row_loss);
}
}  // namespace

uint32_t LayerQuantizer::rows_per_tile(uint32_t n) const {
  return uint32_t(std::clamp<uint64_t>(row_tile_bytes_ / (uint64_t(n) * 4), 1, UINT32_MAX));
}

LayerQuantizer::LayerQuantizer(vk::Context& ctx, const ref::LayerQuantOptions& options)
    : impl_(std::make_unique<Impl>(ctx, options)), opt_(options) {}

LayerQuantizer::~LayerQuantizer() = default;

// What every layer and row tile of a group shares: the regularised Gram and its factor, the column order,
// D in processing order, H̃ in original order.
struct LayerQuantizer::Group {
  uint32_t n = 0;
  const LayerStatistics* stats = nullptr;
  double coef = 0;
  bool is_rtn = false, natural = true;
  PreparedHessian prep;
  std::vector<uint32_t> order;          // processing order
  vk::Buffer order_map, inverse_map;
  vk::Buffer h_orig_storage;            // H̃ in original order when the processing order differs
  std::vector<uint32_t> dead_p;         // dead columns in processing order
  vk::Buffer d_p;                       // D in processing order, dead columns zeroed (α ≠ 0)
  std::vector<double> importance;       // diag H̃ in original order, for the super-block search (lazy)
  const vk::Buffer& h_orig() const { return h_orig_storage ? h_orig_storage : prep.h_reg; }
};

// One row tile's result, with its share of the layer loss and of α*'s products.
struct LayerQuantizer::RowsResult {
  LayerQuantOutput out;
  double loss_sum = 0;
  Impl::AlphaTerms alpha;
};

LayerQuantizer::Group LayerQuantizer::prepare_group(const LayerStatistics& stats, const std::string& label) {
  Impl& im = *impl_;
  vk::Context& ctx = im.ctx;
  const uint32_t n = stats.n;
  if (!stats.h || n == 0) throw Error(label + ": no Gram matrix for the layer group");
  validate_layer_options(opt_, n);
  Group g;
  g.n = n;
  g.stats = &stats;
  g.coef = target_coefficient(opt_.alpha_mode, opt_.alpha);
  if (g.coef != 0 && !stats.d)
    throw Error(label + ": α = " + fmt(opt_.alpha) + " needs the cross-Gram D, which was not collected");
  g.is_rtn = opt_.method == ref::Method::rtn;

  // §2/§4.3: H̃ and U once for the whole group, in processing order.
  HessianOptions ho;
  ho.damp = opt_.damp;
  ho.lambda = opt_.lambda;
  ho.saliency = opt_.saliency;
  ho.channel_mean_abs = stats.channel_mean_abs;
  ho.act_order = opt_.act_order && !g.is_rtn;  // RTN has no column order (as the reference)
  ho.label = label;
  g.prep = im.factorizer.prepare(*stats.h, n, ho);
  g.order = g.prep.order;
  if (g.order.empty()) {
    g.order.resize(n);
    std::iota(g.order.begin(), g.order.end(), 0u);
  }
  for (uint32_t p = 0; p < n; ++p) g.natural &= g.order[p] == p;
  const std::vector<uint32_t> inverse = kernels::inverse_permutation(g.order);
  g.order_map = kernels::GatherMatrix::upload_map(ctx, g.order, n, "act-order");
  g.inverse_map = kernels::GatherMatrix::upload_map(ctx, inverse, n, "inverse act-order");

  // H̃ in original order, for the clip search and RTN's per-row loss (groups are contiguous there).
  if (!g.natural && (opt_.clip.enabled || g.is_rtn || wants_group_refits())) {
    g.h_orig_storage = vk::Buffer(ctx, uint64_t(n) * n * 4, vk::MemoryUse::Device, label + " H̃ original order");
    vk::Stream s(ctx);
    im.gather.run(s, g.prep.h_reg, n, n, &g.inverse_map, g.inverse_map, g.h_orig_storage, n, n);
    s.submit_and_wait();
  }

  // Dead columns in processing order, and D in processing order with its dead columns zeroed.
  for (uint32_t j : g.prep.dead) g.dead_p.push_back(inverse[j]);
  if (g.coef != 0) {
    g.d_p = vk::Buffer(ctx, uint64_t(n) * n * 4, vk::MemoryUse::Device, label + " D processing order");
    vk::Stream s(ctx);
    im.gather.run(s, *stats.d, n, n, &g.order_map, g.order_map, g.d_p, n, n);
    if (!g.dead_p.empty()) {
      std::vector<float> mask(n, 1.0f);
      for (uint32_t p : g.dead_p) mask[p] = 0.0f;
      vk::Buffer mask_b = vk::upload_new(ctx, mask, "D dead-column mask");
      s.barrier();
      kernels::ColumnScaleShape cs;
      cs.m = n, cs.n = n;
      im.scale.run(s, g.d_p, mask_b, cs);
      s.submit_and_wait();
    } else {
      s.submit_and_wait();
    }
  }

  return g;
}

LayerQuantizer::RowsResult LayerQuantizer::solve_rows(Group& g, const LayerWeights& lw, const std::vector<float>& w_rows,
                                                      uint32_t m) {
  Impl& im = *impl_;
  vk::Context& ctx = im.ctx;
  const uint64_t bytes = uint64_t(m) * g.n * 4;
  vk::Buffer w = vk::upload_new(ctx, w_rows, lw.name + " W");
  vk::Buffer t(ctx, bytes, vk::MemoryUse::Device, lw.name + " T");
  vk::Buffer t_p_storage;
  const vk::Buffer* t_p = &t;
  {
    vk::Stream s(ctx);
    if (g.coef == 0) {
      im.target.run(s, w, w, w, t, m, g.n, 0.0, g.prep.dead);  // T = W with dead columns zeroed
      if (!g.natural) {
        t_p_storage = vk::Buffer(ctx, bytes, vk::MemoryUse::Device, lw.name + " T processing order");
        s.barrier();
        im.gather.run(s, t, m, g.n, nullptr, g.order_map, t_p_storage, m, g.n);
        t_p = &t_p_storage;
      }
    } else {
      // §2 T = W + α W D H̃⁻¹, computed in processing order where U lives, then brought back.
      vk::Buffer w_p_storage;
      const vk::Buffer* w_p = &w;
      if (!g.natural) {
        w_p_storage = vk::Buffer(ctx, bytes, vk::MemoryUse::Device, lw.name + " W processing order");
        im.gather.run(s, w, m, g.n, nullptr, g.order_map, w_p_storage, m, g.n);
        s.barrier();
        w_p = &w_p_storage;
      }
      t_p_storage = vk::Buffer(ctx, bytes, vk::MemoryUse::Device, lw.name + " T processing order");
      im.target.run(s, *w_p, g.d_p, g.prep.u, t_p_storage, m, g.n, g.coef, g.dead_p);
      s.barrier();
      im.gather.run(s, t_p_storage, m, g.n, nullptr, g.inverse_map, t, m, g.n);
      t_p = &t_p_storage;
      s.submit_and_wait();  // w_p_storage dies here
    }
    s.submit_and_wait();
  }

  RowsResult r;
  LayerQuantOutput out;
  out.name = lw.name;
  out.rows = m;
  out.cols = g.n;
  out.groups_per_row = kernels::grid_groups_per_row(opt_.grid, g.n);
  out.damp_used = g.prep.delta;
  out.damping_retries = g.prep.retries;
  out.dead_columns = g.prep.dead;
  const uint64_t param_bytes = uint64_t(m) * out.groups_per_row * 16;

  // Static group parameters from T: min-max, or the clip search scored with H̃ (§3 GS), or for the
  // K formats the super-block search weighted by diag H̃ (on the host, in float64: the reference's).
  vk::Buffer clip_params;
  std::vector<double> td;  // T on the host, for the K search and the refits
  if (opt_.superblock != ref::SuperBlock::none) {
    if (g.importance.empty()) {
      vk::Stream s(ctx);
      const std::vector<float> dp = im.diag.diagonal(s, g.prep.h_reg, g.n);  // processing order
      g.importance.assign(g.n, 0.0);
      for (uint32_t p = 0; p < g.n; ++p) g.importance[g.order[p]] = dp[p];
    }
    const std::vector<float> tf = vk::download_all<float>(ctx, t, size_t(m) * g.n);
    td.assign(tf.begin(), tf.end());
    ref::SuperBlockSearch sb;
    try {
      sb = ref::superblock_search(td.data(), m, g.n, opt_.superblock, g.importance.data());
    } catch (const Error& e) {
      throw Error(lw.name + ": " + e.what());  // e.g. a super-block scale beyond fp16
    }
    clip_params = vk::upload_new(ctx, kernels::params_to_device(sb.params, opt_.grid.format), lw.name + " super-block params");
    out.superblocks = std::move(sb.blocks);
  } else if (im.clip && (g.is_rtn || opt_.static_groups)) {
    clip_params = vk::Buffer(ctx, param_bytes, vk::MemoryUse::Device, lw.name + " clip params");
    vk::Buffer scratch(ctx, bytes, vk::MemoryUse::Device, lw.name + " clip scratch");
    vk::Stream s(ctx);
    kernels::ClipSearchShape cs;
    cs.m = m, cs.n = g.n;
    im.clip->run(s, t, g.h_orig(), scratch, clip_params, cs);
    s.submit_and_wait();
  }

  vk::Buffer q_buf;
  const bool params_given = bool(clip_params);
  if (g.is_rtn) {
    vk::Buffer params = clip_params ? std::move(clip_params)
                                    : vk::Buffer(ctx, param_bytes, vk::MemoryUse::Device, lw.name + " params");
    vk::Buffer codes(ctx, bytes, vk::MemoryUse::Device, lw.name + " codes");
    q_buf = vk::Buffer(ctx, bytes, vk::MemoryUse::Device, lw.name + " Q");
    vk::Stream s(ctx);
    kernels::RtnShape rs;
    rs.m = m, rs.n = g.n;
    if (params_given)
      im.rtn.run_with_params(s, t, params, codes, q_buf, rs);
    else
      im.rtn.run(s, t, params, codes, q_buf, rs);
    s.submit_and_wait();
    out.codes = vk::download_all<int32_t>(ctx, codes, size_t(m) * g.n);
    out.params = kernels::params_from_device(vk::download_all<float>(ctx, params, size_t(m) * out.groups_per_row * 4));
    out.dequantized = vk::download_all<float>(ctx, q_buf, size_t(m) * g.n);
    const uint32_t cols_per_group = kernels::grid_group_columns(opt_.grid, g.n);
    out.g_idx.resize(g.n);
    for (uint32_t j = 0; j < g.n; ++j) out.g_idx[j] = j / cols_per_group;
    vk::Buffer e = vk::upload_new(ctx, out.dequantized, lw.name + " E");
    out.row_loss = im.row_losses(e, t, g.h_orig(), m, g.n);
  } else {
    GbsProblem pb;
    pb.target = t_p;
    pb.u = &g.prep.u;
    pb.rows = m;
    pb.cols = g.n;
    if (!g.natural) pb.order = g.order;
    pb.static_params = clip_params ? &clip_params : nullptr;
    SweepOnHost sw = sweep_to_host(ctx, *im.gbs, pb, m, g.n);
    out.codes = std::move(sw.codes);
    out.params = std::move(sw.params);
    out.dequantized = std::move(sw.dequantized);
    out.g_idx = std::move(sw.g_idx);
    out.row_loss = std::move(sw.row_loss);
    q_buf = std::move(sw.dequantized_buffer);
    if (opt_.superblock != ref::SuperBlock::none && refit_superblocks(ctx, *im.gbs, pb, td, g.importance, opt_, out)) {
      q_buf = vk::upload_new(ctx, out.dequantized, lw.name + " Q refit");
    } else if (wants_group_refits()) {
      DeviceGroupRefit refitter(ctx, im.gemm, *im.refit_terms, opt_.grid, t, g.h_orig(), m, g.n);
      if (refit_group_rows(ctx, *im.gbs, pb, refitter, opt_, out))
        q_buf = vk::upload_new(ctx, out.dequantized, lw.name + " Q refit");
    }
  }

  // §6 layer error with the unregularised H, original order: Σ_i (t − q)_i H (t − q)_iᵀ, summed over tiles.
  const auto per_row = im.row_losses(q_buf, t, *g.stats->h, m, g.n);
  r.loss_sum = std::accumulate(per_row.begin(), per_row.end(), 0.0);
  if (g.coef != 0) r.alpha = im.alpha_terms(w_rows, g.prep.dead, *g.stats->d, t, out.dequantized, m, g.n, g.coef);
  r.out = std::move(out);
  return r;
}

std::vector<LayerQuantOutput> LayerQuantizer::quantize_group(const std::vector<LayerWeights>& layers,
                                                             const LayerStatistics& stats, const std::string& label) {
  Group g = prepare_group(stats, label);
  const uint32_t n = g.n;
  std::vector<LayerQuantOutput> outputs;
  for (const LayerWeights& lw : layers) {
    if (cancel_check_) cancel_check_();
    if (!lw.w || lw.rows == 0 || lw.w->size() != uint64_t(lw.rows) * n)
      throw Error(lw.name + ": weights are not " + std::to_string(lw.rows) + " x " + std::to_string(n));
    check_finite(lw.name, *lw.w, n);
    // Rows are solved independently, so a tensor larger than the row tile (the output head of a large
    // vocabulary) runs tile by tile, bounding the device workspace; each row's result is the same either way.
    const uint32_t tile_rows = rows_per_tile(n);
    LayerQuantOutput whole;
    Impl::AlphaTerms alpha;
    double loss_sum = 0;
    for (uint32_t r0 = 0; r0 < lw.rows; r0 += tile_rows) {
      if (r0 > 0 && cancel_check_) cancel_check_();
      const uint32_t m = std::min(tile_rows, lw.rows - r0);
      std::vector<float> w_copy;  // the tile's rows, when the tensor has more than one tile
      if (m < lw.rows) w_copy.assign(lw.w->begin() + ptrdiff_t(size_t(r0) * n), lw.w->begin() + ptrdiff_t(size_t(r0 + m) * n));
      RowsResult r = solve_rows(g, lw, m < lw.rows ? w_copy : *lw.w, m);
      loss_sum += r.loss_sum;
      alpha.num += r.alpha.num, alpha.den += r.alpha.den;
      append_rows(whole, std::move(r.out));
    }
    whole.loss = loss_sum / double(lw.rows);
    if (g.coef != 0) whole.alpha_star = alpha.den > 0 ? std::clamp(alpha.num / alpha.den, 0.0, 1.0) : -1;
    outputs.push_back(std::move(whole));
  }
  return outputs;
}

}  // namespace vkq::quant
