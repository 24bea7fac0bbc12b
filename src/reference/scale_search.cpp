// ALGORITHMS.md §3/§4 GS — per-group clip search and AWQ-style activation-aware scale search.
#include "reference/scale_search.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "reference/grid.hpp"
#include "reference/objective.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::ref {

void validate_clip(const ClipOptions& clip) {
  if (clip.candidates < 1)
    throw vkq::Error("clip search: candidates = " + std::to_string(clip.candidates) + ", need at least 1");
  if (!(clip.step >= 0) || !std::isfinite(clip.step))
    throw vkq::Error("clip search: step = " + std::to_string(clip.step) + " must be finite and ≥ 0");
  if (clip.expand < 0)
    throw vkq::Error("clip search: expand = " + std::to_string(clip.expand) + " must be ≥ 0");
  if (!(1.0 - (clip.candidates - 1) * clip.step > 0))
    throw vkq::Error("clip search: step " + std::to_string(clip.step) + " × (candidates − 1) = " +
                     std::to_string((clip.candidates - 1) * clip.step) + " shrinks the range to nothing (must be < 1)");
}

double clip_candidate_loss(const double* t, size_t g, const double* h, size_t ld, const GridSpec& spec,
                           const GroupParams& params, ClipScore score) {
  std::vector<double> d(g);
  for (size_t j = 0; j < g; ++j) d[j] = t[j] - dequantize_code(quantize_value(t[j], params, spec), params, spec);
  double s = 0;
  for (size_t i = 0; i < g; ++i) {
    if (score == ClipScore::diagonal) {
      s += h[i * ld + i] * d[i] * d[i];
      continue;
    }
    double hi = 0;
    for (size_t j = 0; j < g; ++j) hi += h[i * ld + j] * d[j];
    s += d[i] * hi;
  }
  return s;
}

bool refit_group_params(const double* t, size_t g, const double* h, size_t ld, const GridSpec& spec,
                        const GroupParams& p, ClipScore score, GroupParams& out) {
  const bool offset = spec.format == GridFormat::Q4_1 || spec.format == GridFormat::Q5_1;
  // Products with H restricted to the group: uᵀHu, uᵀHt, uᵀH1, 1ᵀHt, 1ᵀH1 (u = q − zero).
  std::vector<double> u(g);
  for (size_t j = 0; j < g; ++j) u[j] = double(quantize_value(t[j], p, spec)) - p.zero;
  double uhu = 0, uht = 0, uh1 = 0, oht = 0, oh1 = 0;
  for (size_t i = 0; i < g; ++i) {
    double hu = 0, ht = 0, h1 = 0;
    if (score == ClipScore::diagonal) {
      const double hii = h[i * ld + i];
      hu = hii * u[i], ht = hii * t[i], h1 = hii;
    } else {
      for (size_t j = 0; j < g; ++j) {
        const double hij = h[i * ld + j];
        hu += hij * u[j], ht += hij * t[j], h1 += hij;
      }
    }
    uhu += u[i] * hu, uht += u[i] * ht, uh1 += u[i] * h1, oht += ht, oh1 += h1;
  }
  double s = 0, m = p.min;
  if (offset) {  // the normal equations of (s, m)
    const double det = uhu * oh1 - uh1 * uh1;
    if (!(det > 1e-12 * uhu * oh1)) return false;
    s = (uht * oh1 - oht * uh1) / det;
    m = (uhu * oht - uh1 * uht) / det;
  } else {
    if (!(uhu > 0)) return false;
    s = uht / uhu;
  }
  GroupParams r = p;
  r.scale = stored_value(spec, s);
  if (offset) r.min = stored_value(spec, m);
  if (!std::isfinite(r.scale) || !std::isfinite(r.min) || !(r.scale * p.scale > 0)) return false;
  out = r;
  return true;
}

GroupParams clip_search_group(const double* t, size_t g, const double* h, size_t ld, const GridSpec& spec,
                              const ClipOptions& clip) {
  GroupParams best;
  double best_loss = 0;
  bool first = true;
  const auto consider = [&](const GroupParams& p) {
    const double loss = clip_candidate_loss(t, g, h, ld, spec, p, clip.score);
    if (first || loss < best_loss) {
      best_loss = loss;
      best = p;
      first = false;
    }
  };
  const auto candidate = [&](double factor) {
    const GroupParams p = params_for(t, g, spec, factor);
    consider(p);
    GroupParams r;
    if (clip.refit && refit_group_params(t, g, h, ld, spec, p, clip.score, r)) consider(r);
  };
  for (int c = 0; c < clip.candidates; ++c) candidate(1.0 - c * clip.step);
  for (int e = 1; e <= clip.expand; ++e) candidate(1.0 + e * clip.step);
  const bool offset = spec.format == GridFormat::Q4_1 || spec.format == GridFormat::Q5_1;
  if (!clip.about_min || !offset) return best;
  // A block already on a coarser offset lattice (Q4_1 → Q5_1) is exact only with its min kept.
  const double levels = spec.format == GridFormat::Q4_1 ? 15 : 31;
  double lo = t[0], hi = t[0];
  for (size_t j = 1; j < g; ++j) lo = std::min(lo, t[j]), hi = std::max(hi, t[j]);
  const auto about_min = [&](double factor) {
    GroupParams p;
    p.scale = stored_value(spec, (hi - lo) * factor / levels);
    p.min = stored_value(spec, lo);
    if (!std::isfinite(p.scale) || !std::isfinite(p.min)) return;  // beyond fp16: not a candidate
    consider(p);
    GroupParams r;
    if (clip.refit && refit_group_params(t, g, h, ld, spec, p, clip.score, r)) consider(r);
  };
  for (int c = 1; c < clip.candidates; ++c) about_min(1.0 - c * clip.step);
  for (int e = 1; e <= clip.expand; ++e) about_min(1.0 + e * clip.step);
  return best;
}

std::vector<GroupParams> clip_search_params(const double* target, size_t m, size_t n, const double* h_reg,
                                            const GridSpec& spec, const ClipOptions& clip) {
  validate_grid(spec, n);
  validate_clip(clip);
  const size_t g = group_size(spec, n), ng = groups_per_row(spec, n);
  std::vector<GroupParams> params(m * ng);
  for (size_t i = 0; i < m; ++i)
    for (size_t k = 0; k < ng; ++k) {
      const size_t j0 = k * g, len = std::min(g, n - j0);
      params[i * ng + k] = clip_search_group(target + i * n + j0, len, h_reg + j0 * n + j0, n, spec, clip);
    }
  return params;
}

std::vector<double> awq_channel_scales(const std::vector<double>& channel_mean_abs) {
  if (channel_mean_abs.empty()) throw vkq::Error("AWQ scale search: no channel statistics (mean|x|)");
  double mx = 0;
  for (size_t j = 0; j < channel_mean_abs.size(); ++j) {
    const double a = channel_mean_abs[j];
    if (!std::isfinite(a) || a < 0)
      throw vkq::Error("AWQ scale search: mean|x| of channel " + std::to_string(j) + " is " + std::to_string(a));
    mx = std::max(mx, a);
  }
  if (!(mx > 0)) throw vkq::Error("AWQ scale search: every channel has mean|x| = 0");
  std::vector<double> s(channel_mean_abs.size());
  double lo = mx;
  for (size_t j = 0; j < s.size(); ++j) {
    s[j] = std::max(channel_mean_abs[j], 1e-4 * mx);
    lo = std::min(lo, s[j]);
  }
  const double norm = std::sqrt(mx * lo);
  for (double& v : s) v /= norm;
  return s;
}

AwqResult awq_scale_search(const std::vector<AwqLayer>& layers, size_t n, const std::vector<double>& h_reg,
                           const std::vector<double>& channel_mean_abs, const GridSpec& spec, size_t n_grid) {
  validate_grid(spec, n);
  if (layers.empty()) throw vkq::Error("AWQ scale search: no layers given");
  if (n_grid == 0) throw vkq::Error("AWQ scale search: n_grid must be ≥ 1");
  if (h_reg.size() != n * n)
    throw vkq::Error("AWQ scale search: H̃ has " + std::to_string(h_reg.size()) + " entries, expected n² = " +
                     std::to_string(n * n));
  if (channel_mean_abs.size() != n)
    throw vkq::Error("AWQ scale search: " + std::to_string(channel_mean_abs.size()) + " channel statistics for n = " +
                     std::to_string(n));
  for (const auto& l : layers)
    if (!l.weights) throw vkq::Error("AWQ scale search: a layer has no weights");
  const std::vector<double> s = awq_channel_scales(channel_mean_abs);

  AwqResult r;
  std::vector<double> sa(n);
  for (size_t c = 0; c < n_grid; ++c) {
    const double a = double(c) / double(n_grid);
    for (size_t j = 0; j < n; ++j) sa[j] = std::pow(s[j], a);  // exactly 1 at a = 0
    double loss = 0;
    for (const auto& l : layers) {
      std::vector<double> scaled(l.rows * n);
      for (size_t i = 0; i < l.rows; ++i)
        for (size_t j = 0; j < n; ++j) scaled[i * n + j] = l.weights[i * n + j] * sa[j];
      std::vector<double> q = decode_matrix(encode_matrix(scaled.data(), l.rows, n, spec), spec);
      for (size_t i = 0; i < l.rows; ++i)
        for (size_t j = 0; j < n; ++j) q[i * n + j] /= sa[j];
      const double* t = l.target ? l.target : l.weights;
      for (double v : rows_quadratic_loss(t, q.data(), l.rows, n, h_reg.data())) loss += v;
    }
    r.exponents.push_back(a);
    r.losses.push_back(loss);
    if (c == 0 || loss < r.best_loss) {
      r.best = c;
      r.best_loss = loss;
      r.best_exponent = a;
      r.scales = sa;
    }
  }
  return r;
}

}  // namespace vkq::ref
