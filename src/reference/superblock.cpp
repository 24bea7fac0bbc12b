// ALGORITHMS.md §3 — super-block parameter search (conventions in superblock.hpp).
#include "reference/superblock.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <thread>

#include "common/float16.hpp"
#include "reference/grid.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::ref {
namespace {

struct Format {
  int bits = 4;
  size_t sub = 32;      // columns per sub-block
  bool offset = false;  // ŵ = d·sc·u − dmin·m (else symmetric ŵ = d·sc·(u − nmax), or d·sc·kIq4Values[u])
  int sc_lo = 0, sc_hi = 63, mn_hi = 63;
  bool nonlinear = false;             // the IQ4 grid
  size_t columns = kSuperBlockColumns;  // per super-block (IQ4_NL: its 32-column block)
  int nmax() const { return 1 << (bits - 1); }
  int levels() const { return (1 << bits) - 1; }
  size_t subblocks() const { return columns / sub; }
};

Format format_of(SuperBlock f) {
  switch (f) {
    case SuperBlock::Q2_K: return {2, 16, true, 0, 15, 15};
    case SuperBlock::Q3_K: return {3, 16, false, -32, 31, 0};
    case SuperBlock::Q4_K: return {4, 32, true, 0, 63, 63};
    case SuperBlock::Q5_K: return {5, 32, true, 0, 63, 63};
    case SuperBlock::Q6_K: return {6, 16, false, -128, 127, 0};
    case SuperBlock::IQ4_NL: return {4, 32, false, 1, 1, 0, true, 32};  // d is the block scale: sc ≡ 1
    case SuperBlock::IQ4_XS: return {4, 32, false, -32, 31, 0, true, kSuperBlockColumns};
    case SuperBlock::none: break;
  }
  throw vkq::Error("superblock: no super-block format given");
}

// Candidate scales tried around each sub-block's min-max: iscale = (levels + kStep·r)/range, |r| ≤ kSteps.
constexpr int kSteps = 10;
constexpr double kStep = 0.1;
// Super-block scale candidates: d·(1 + kDStep·r), |r| ≤ kDSteps, each scored with its stored values.
constexpr int kDSteps = 2;
constexpr double kDStep = 0.025;

double stored_half(double v, SuperBlock f, const char* what) {
  const double h = double(vkq::round_to_half(float(v)));
  if (!std::isfinite(h))
    throw vkq::Error(std::string(superblock_name(f)) + ": super-block " + what + " " + std::to_string(v) +
                     " does not fit in fp16; the weights are too large for this type");
  return h;
}

// Σ c (t − ŵ)² of rounding t to nearest against p on the grid of the format, or, with codes given,
// of those codes decoded with p (the refit scores parameters for the codes a sweep chose).
double rounding_error(const double* t, const double* c, size_t g, const GroupParams& p, const GridSpec& grid,
                      const int32_t* codes = nullptr) {
  double e = 0;
  for (size_t j = 0; j < g; ++j) {
    const double r = t[j] - dequantize_code(codes ? codes[j] : quantize_value(t[j], p, grid), p, grid);
    e += c[j] * r * r;
  }
  return e;
}

// Best unquantized (scale ≥ 0, min ≤ 0) of an offset sub-block: min-max, then weighted least-squares
// refits of the codes that nearby scales give, each scored by rounding again.
GroupParams fit_offset(const double* t, const double* c, size_t g, const Format& fm, const GridSpec& grid) {
  double lo = 0, hi = t[0];
  for (size_t j = 0; j < g; ++j) lo = std::min(lo, t[j]), hi = std::max(hi, t[j]);
  if (!(hi > lo)) return {0, 0, lo};
  const double levels = fm.levels();
  GroupParams best{(hi - lo) / levels, 0, lo};
  double best_err = rounding_error(t, c, g, best, grid);
  for (int r = -kSteps; r <= kSteps; ++r) {
    const double iscale = (levels + kStep * r) / (hi - lo);
    double a = 0, b = 0, cc = 0, d = 0, e = 0;  // Σcq², Σcq, Σc, Σcqt, Σct
    for (size_t j = 0; j < g; ++j) {
      const double q = std::clamp(std::floor((t[j] - lo) * iscale + 0.5), 0.0, levels);
      a += c[j] * q * q, b += c[j] * q, cc += c[j], d += c[j] * q * t[j], e += c[j] * t[j];
    }
    const double det = a * cc - b * b;
    double s = 0, mn = 0;
    if (det > 0) s = (d * cc - b * e) / det, mn = (a * e - b * d) / det;
    if (!(det > 0) || mn > 0) mn = 0, s = a > 0 ? d / a : 0;  // the format's min is never above 0
    if (!(s > 0) || !std::isfinite(s) || !std::isfinite(mn)) continue;
    const GroupParams p{s, 0, mn};
    const double err = rounding_error(t, c, g, p, grid);
    if (err < best_err) best = p, best_err = err;
  }
  return best;
}

// Best unquantized signed scale of a symmetric sub-block (codes −nmax … nmax − 1): the value of
// largest magnitude on −nmax, then weighted least-squares refits of nearby scales' codes.
GroupParams fit_symmetric(const double* t, const double* c, size_t g, const Format& fm, const GridSpec& grid) {
  const double nmax = fm.nmax();
  double amax = 0, v = 0;
  for (size_t j = 0; j < g; ++j)
    if (std::fabs(t[j]) > amax) amax = std::fabs(t[j]), v = t[j];
  if (v == 0) return {0, nmax, 0};
  GroupParams best{v / -nmax, nmax, 0};
  double best_err = rounding_error(t, c, g, best, grid);
  for (int r = -kSteps; r <= kSteps; ++r) {
    const double iscale = -(nmax + kStep * r) / v;
    double a = 0, d = 0;
    for (size_t j = 0; j < g; ++j) {
      const double q = std::clamp(std::floor(t[j] * iscale + 0.5), -nmax, nmax - 1);
      a += c[j] * q * q, d += c[j] * q * t[j];
    }
    if (!(a > 0)) continue;
    const GroupParams p{d / a, nmax, 0};
    if (p.scale == 0 || !std::isfinite(p.scale)) continue;
    const double err = rounding_error(t, c, g, p, grid);
    if (err < best_err) best = p, best_err = err;
  }
  return best;
}

// Best unquantized scale of a sub-block on the non-linear IQ4 grid: the value of largest magnitude on
// either end of the grid (−127 or 113) and nearby, each refitted by weighted least squares to its codes.
GroupParams fit_nonlinear(const double* t, const double* c, size_t g, const GridSpec& grid) {
  double amax = 0, v = 0;
  for (size_t j = 0; j < g; ++j)
    if (std::fabs(t[j]) > amax) amax = std::fabs(t[j]), v = t[j];
  if (v == 0) return {0, 0, 0};
  GroupParams best{v / kIq4Values[0], 0, 0};
  double best_err = rounding_error(t, c, g, best, grid);
  for (const double end : {double(kIq4Values[0]), double(kIq4Values[15])})
    for (int r = -kSteps; r <= kSteps; ++r) {
      const GroupParams start{v / (end * (1 + 0.01 * r)), 0, 0};
      double a = 0, d = 0;
      for (size_t j = 0; j < g; ++j) {
        const double k = kIq4Values[quantize_value(t[j], start, grid)];
        a += c[j] * k * k, d += c[j] * k * t[j];
      }
      if (!(a > 0)) continue;
      const GroupParams p{d / a, 0, 0};
      if (p.scale == 0 || !std::isfinite(p.scale)) continue;
      const double err = rounding_error(t, c, g, p, grid);
      if (err < best_err) best = p, best_err = err;
    }
  return best;
}

int clamp_round(double x, int lo, int hi) { return int(std::clamp(std::floor(x + 0.5), double(lo), double(hi))); }

// Quantizes the sub-block fits against super-block scale d (and dmin), then moves each sub-block's
// integer scale/min by ±1 where its error with the stored values drops (rounding to nearest, or the
// given codes). Returns Σ error.
double quantize_superblock(const double* t, const double* c, const std::vector<GroupParams>& fit, const Format& fm,
                           SuperBlock f, const GridSpec& grid, double d, double dmin, SuperBlockParams& out,
                           const int32_t* codes) {
  out = SuperBlockParams{};
  out.d = d, out.dmin = dmin;
  double total = 0;
  for (size_t k = 0; k < fm.subblocks(); ++k) {
    const int sc0 = d != 0 ? clamp_round(fit[k].scale / d, fm.sc_lo, fm.sc_hi) : 0;
    const int mn0 = fm.offset && dmin != 0 ? clamp_round(-fit[k].min / dmin, 0, fm.mn_hi) : 0;
    double best = -1;
    for (int ds = -1; ds <= 1; ++ds)
      for (int dm = fm.offset ? -1 : 0; dm <= (fm.offset ? 1 : 0); ++dm) {
        const int sc = sc0 + ds, mn = mn0 + dm;
        if (sc < fm.sc_lo || sc > fm.sc_hi || mn < 0 || mn > fm.mn_hi) continue;
        SuperBlockParams trial = out;
        trial.scale[k] = sc, trial.min[k] = mn;
        const double err = rounding_error(t + k * fm.sub, c + k * fm.sub, fm.sub, subblock_params(trial, k, f), grid,
                                          codes ? codes + k * fm.sub : nullptr);
        if (best < 0 || err < best) best = err, out.scale[k] = sc, out.min[k] = mn;
      }
    total += best;
  }
  return total;
}

// The stored super-block closest to the unquantized sub-block fits: d (and dmin) mapping the extreme
// fit onto the integer range, five d candidates, each sub-block's integers refined; codes as above.
SuperBlockParams store_superblock(const double* t, const double* c, const std::vector<GroupParams>& fit,
                                  const Format& fm, SuperBlock f, const GridSpec& grid, const int32_t* codes) {
  // The super-block scale that maps the extreme sub-block scale onto the top of the integer range.
  double ext = 0, omax = 0;
  for (const auto& p : fit) {
    if (std::fabs(p.scale) > std::fabs(ext)) ext = p.scale;
    omax = std::max(omax, -p.min);
  }
  // Symmetric: the extreme on sc_lo (−32, −128); IQ4_NL: sc ≡ 1, so d is the fitted scale itself.
  const double d_base = fm.offset ? ext / fm.sc_hi : ext / fm.sc_lo;
  const double dmin = fm.offset ? stored_half(omax / fm.mn_hi, f, "min scale dmin") : 0;
  SuperBlockParams best, trial;
  double best_err = -1;
  for (int r = -kDSteps; r <= kDSteps; ++r) {
    const double d = stored_half(d_base * (1 + kDStep * r), f, "scale d");
    const double err = quantize_superblock(t, c, fit, fm, f, grid, d, dmin, trial, codes);
    if (best_err < 0 || err < best_err) best_err = err, best = trial;
  }
  return best;
}

SuperBlockParams search_superblock(const double* t, const double* c, const Format& fm, SuperBlock f,
                                   const GridSpec& grid) {
  std::vector<GroupParams> fit(fm.subblocks());
  for (size_t k = 0; k < fm.subblocks(); ++k)
    fit[k] = fm.nonlinear ? fit_nonlinear(t + k * fm.sub, c + k * fm.sub, fm.sub, grid)
             : fm.offset  ? fit_offset(t + k * fm.sub, c + k * fm.sub, fm.sub, fm, grid)
                          : fit_symmetric(t + k * fm.sub, c + k * fm.sub, fm.sub, fm, grid);
  return store_superblock(t, c, fit, fm, f, grid, nullptr);
}

// The unquantized params of one sub-block that minimise Σ c (t − ŵ(u))² with its codes u held fixed
// (ŵ = s·v(u) + mn, v the grid's value of a code at unit scale): weighted least squares, min ≤ 0 for
// the offset formats. `keep` where the codes leave it undetermined (all equal, or no weight).
GroupParams refit_subblock(const double* t, const double* c, const int32_t* u, size_t g, const Format& fm,
                           const GridSpec& grid, const GroupParams& keep) {
  const GroupParams unit{1, fm.offset ? 0.0 : double(fm.nmax()), 0};
  double a = 0, b = 0, cc = 0, d = 0, e = 0;  // Σcv², Σcv, Σc, Σcvt, Σct
  for (size_t j = 0; j < g; ++j) {
    const double v = dequantize_code(u[j], unit, grid);
    a += c[j] * v * v, b += c[j] * v, cc += c[j], d += c[j] * v * t[j], e += c[j] * t[j];
  }
  GroupParams p = keep;
  if (!fm.offset) {
    if (a > 0) p.scale = d / a;
  } else {
    const double det = a * cc - b * b;
    double s = 0, mn = 0;
    if (det > 0) s = (d * cc - b * e) / det, mn = (a * e - b * d) / det;
    if (!(det > 0) || mn > 0) mn = 0, s = a > 0 ? d / a : 0;
    if (s > 0) p = {s, 0, mn};
  }
  return std::isfinite(p.scale) && std::isfinite(p.min) ? p : keep;
}

SuperBlockParams refit_superblock(const double* t, const double* c, const int32_t* codes, const SuperBlockParams& now,
                                  const Format& fm, SuperBlock f, const GridSpec& grid) {
  std::vector<GroupParams> fit(fm.subblocks());
  for (size_t k = 0; k < fm.subblocks(); ++k)
    fit[k] = refit_subblock(t + k * fm.sub, c + k * fm.sub, codes + k * fm.sub, fm.sub, fm, grid,
                            subblock_params(now, k, f));
  try {
    const SuperBlockParams next = store_superblock(t, c, fit, fm, f, grid, codes);
    // Kept only where the stored refit fits these codes better than the params that produced them.
    double e_now = 0, e_next = 0;
    for (size_t k = 0; k < fm.subblocks(); ++k) {
      const size_t o = k * fm.sub;
      e_now += rounding_error(t + o, c + o, fm.sub, subblock_params(now, k, f), grid, codes + o);
      e_next += rounding_error(t + o, c + o, fm.sub, subblock_params(next, k, f), grid, codes + o);
    }
    return e_next < e_now ? next : now;
  } catch (const vkq::Error&) {
    return now;  // a refit scale beyond fp16: keep the searched one
  }
}

}  // namespace

const char* superblock_name(SuperBlock f) {
  switch (f) {
    case SuperBlock::Q2_K: return "Q2_K";
    case SuperBlock::Q3_K: return "Q3_K";
    case SuperBlock::Q4_K: return "Q4_K";
    case SuperBlock::Q5_K: return "Q5_K";
    case SuperBlock::Q6_K: return "Q6_K";
    case SuperBlock::IQ4_NL: return "IQ4_NL";
    case SuperBlock::IQ4_XS: return "IQ4_XS";
    case SuperBlock::none: break;
  }
  return "none";
}

size_t superblock_subblock_columns(SuperBlock f) { return format_of(f).sub; }
size_t superblock_columns(SuperBlock f) { return format_of(f).columns; }

GridSpec superblock_grid(SuperBlock f) {
  const Format fm = format_of(f);
  GridSpec g;
  g.format = fm.nonlinear ? GridFormat::IQ4 : GridFormat::INT;
  g.bits = fm.bits;
  g.group = fm.sub;
  g.symmetric = !fm.offset;
  return g;
}

void validate_superblock(SuperBlock f, size_t n) {
  const Format fm = format_of(f);
  if (n == 0 || n % fm.columns != 0)
    throw vkq::Error(std::string(superblock_name(f)) + ": n = " + std::to_string(n) + " columns is not a multiple of the " +
                     std::to_string(fm.columns) + "-column " + (fm.columns == kSuperBlockColumns ? "super-block" : "block"));
}

void validate_superblock_options(const LayerQuantOptions& o, size_t n) {
  if (o.superblock == SuperBlock::none) return;
  const std::string name = superblock_name(o.superblock);
  validate_superblock(o.superblock, n);
  const GridSpec g = superblock_grid(o.superblock);
  if (o.grid.format != g.format || o.grid.bits != g.bits || o.grid.group != g.group)
    throw vkq::Error("quantize_layer: " + name + " codes need the grid " +
                     (g.format == GridFormat::IQ4 ? std::string("IQ4") : "INT" + std::to_string(g.bits)) +
                     " with groups of " + std::to_string(g.group) + " (superblock_grid)");
  if (!o.static_groups && o.method != Method::rtn)
    throw vkq::Error("quantize_layer: " + name + " parameters are chosen from T before the sweep: static_groups is required");
  if (o.clip.enabled)
    throw vkq::Error("quantize_layer: " + name + " has its own super-block scale search; turn the clip search off");
}

GroupParams subblock_params(const SuperBlockParams& sb, size_t k, SuperBlock f) {
  const Format fm = format_of(f);
  if (fm.nonlinear) return {sb.d * sb.scale[k], 0, 0};
  if (fm.offset) return {sb.d * sb.scale[k], 0, -(sb.dmin * sb.min[k])};
  return {sb.d * sb.scale[k], double(fm.nmax()), 0};
}

namespace {

void check_finite_target(const double* t, size_t m, size_t n, SuperBlock f) {
  for (size_t k = 0; k < m * n; ++k)
    if (!std::isfinite(t[k]))
      throw vkq::Error(std::string(superblock_name(f)) + ": non-finite weight " + std::to_string(t[k]) + " at row " +
                       std::to_string(k / n) + ", column " + std::to_string(k % n));
}

// Column weights with all-zero sub-blocks replaced by ones (no information: plain squared error).
std::vector<double> effective_weights(const double* column_weight, size_t n, const Format& fm) {
  std::vector<double> c(n, 1.0);
  if (column_weight)
    for (size_t j0 = 0; j0 < n; j0 += fm.sub) {
      double sum = 0;
      for (size_t j = j0; j < j0 + fm.sub; ++j) sum += std::max(0.0, column_weight[j]);
      if (sum > 0)
        for (size_t j = j0; j < j0 + fm.sub; ++j) c[j] = std::max(0.0, column_weight[j]);
    }
  return c;
}

// Runs solve_block(row, super-block) over all of them, rows split over the cores (the result does not
// depend on the split), and fills the effective sub-block params.
template <typename SolveBlock>
SuperBlockSearch for_each_superblock(size_t m, size_t n, SuperBlock f, SolveBlock solve_block) {
  const Format fm = format_of(f);
  const size_t nb = n / fm.columns;
  SuperBlockSearch out;
  out.blocks.resize(m * nb);
  out.params.resize(m * nb * fm.subblocks());
  const size_t workers = std::clamp<size_t>(std::thread::hardware_concurrency(), 1, 16);
  auto run_rows = [&](size_t r0, size_t r1) {
    for (size_t i = r0; i < r1; ++i)
      for (size_t b = 0; b < nb; ++b) {
        SuperBlockParams& sb = out.blocks[i * nb + b];
        sb = solve_block(i, b);
        for (size_t k = 0; k < fm.subblocks(); ++k)
          out.params[(i * nb + b) * fm.subblocks() + k] = subblock_params(sb, k, f);
      }
  };
  if (workers == 1 || m < 2 * workers) {
    run_rows(0, m);
    return out;
  }
  std::vector<std::thread> threads;
  std::vector<std::exception_ptr> errors(workers);
  for (size_t w = 0; w < workers; ++w)
    threads.emplace_back([&, w] {
      try {
        run_rows(m * w / workers, m * (w + 1) / workers);
      } catch (...) {
        errors[w] = std::current_exception();
      }
    });
  for (auto& th : threads) th.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
  return out;
}

}  // namespace

SuperBlockSearch superblock_search(const double* t, size_t m, size_t n, SuperBlock f, const double* column_weight) {
  validate_superblock(f, n);
  check_finite_target(t, m, n, f);
  const Format fm = format_of(f);
  const GridSpec grid = superblock_grid(f);
  const std::vector<double> c = effective_weights(column_weight, n, fm);
  return for_each_superblock(m, n, f, [&](size_t i, size_t b) {
    const size_t col = i * n + b * fm.columns;
    return search_superblock(t + col, c.data() + col % n, fm, f, grid);
  });
}

SuperBlockSearch superblock_refit(const double* t, const int32_t* codes, size_t m, size_t n, SuperBlock f,
                                  const double* column_weight, const std::vector<SuperBlockParams>& current) {
  validate_superblock(f, n);
  check_finite_target(t, m, n, f);
  const Format fm = format_of(f);
  const GridSpec grid = superblock_grid(f);
  const size_t nb = n / fm.columns;
  if (current.size() != m * nb)
    throw vkq::Error(std::string(superblock_name(f)) + ": refit needs " + std::to_string(m * nb) +
                     " current super-blocks, got " + std::to_string(current.size()));
  const std::vector<double> c = effective_weights(column_weight, n, fm);
  return for_each_superblock(m, n, f, [&](size_t i, size_t b) {
    const size_t col = i * n + b * fm.columns;
    return refit_superblock(t + col, c.data() + col % n, codes + col, current[i * nb + b], fm, f, grid);
  });
}

}  // namespace vkq::ref
