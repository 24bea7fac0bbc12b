// ALGORITHMS.md §3 — generic integer grid and GGUF legacy block grids (conventions in grid.hpp).
#include "reference/grid.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "common/float16.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::ref {
namespace {

constexpr size_t kGgufBlock = 32;

const char* format_name(GridFormat f) {
  switch (f) {
    case GridFormat::INT: return "INT";
    case GridFormat::Q8_0: return "Q8_0";
    case GridFormat::Q4_0: return "Q4_0";
    case GridFormat::Q4_1: return "Q4_1";
    case GridFormat::Q5_0: return "Q5_0";
    case GridFormat::Q5_1: return "Q5_1";
    case GridFormat::IQ4: return "IQ4";
  }
  return "unknown";
}

// What GGUF stores: the float64 value narrowed to fp32, then rounded to fp16.
double stored_half(double v, GridFormat f, const char* what) {
  const double h = double(vkq::round_to_half(float(v)));
  if (!std::isfinite(h))
    throw vkq::Error(std::string("grid ") + format_name(f) + ": block " + what + " " + std::to_string(v) +
                     " does not fit in fp16");
  return h;
}

// Value of largest magnitude, the first one on ties (ggml's strict `amax < fabsf(v)`).
double signed_extreme(const double* w, size_t g) {
  double amax = 0, v = 0;
  for (size_t i = 0; i < g; ++i)
    if (std::fabs(w[i]) > amax) {
      amax = std::fabs(w[i]);
      v = w[i];
    }
  return v;
}

void check_finite(const double* w, size_t g) {
  for (size_t i = 0; i < g; ++i)
    if (!std::isfinite(w[i]))
      throw vkq::Error("grid: non-finite weight " + std::to_string(w[i]) + " at position " + std::to_string(i) +
                       " of a group");
}

GroupParams int_params(const double* w, size_t g, const GridSpec& spec, double shrink) {
  const double maxq = double((1 << spec.bits) - 1);
  double lo = 0, hi = 0;  // starting at 0 widens the range to contain 0, as GPTQ does
  for (size_t i = 0; i < g; ++i) {
    lo = std::min(lo, w[i]);
    hi = std::max(hi, w[i]);
  }
  lo *= shrink;
  hi *= shrink;
  if (spec.symmetric) {
    const double amax = std::max(-lo, hi);
    lo = -amax;
    hi = amax;
  }
  if (lo == 0 && hi == 0) {  // scale-0 guard: GPTQ's range [−1, 1]; all codes decode to 0
    lo = -1;
    hi = 1;
  }
  GroupParams p;
  p.scale = (hi - lo) / maxq;
  p.zero = spec.symmetric ? (maxq + 1) / 2 : std::floor(-lo / p.scale + 0.5);
  return p;
}

GroupParams offset_params(const double* w, size_t g, GridFormat f, double levels, double shrink) {
  double lo = w[0], hi = w[0];
  for (size_t i = 1; i < g; ++i) {
    lo = std::min(lo, w[i]);
    hi = std::max(hi, w[i]);
  }
  lo *= shrink;
  hi *= shrink;
  GroupParams p;
  p.scale = stored_half((hi - lo) / levels, f, "scale d");
  p.min = stored_half(lo, f, "min m");
  return p;
}

}  // namespace

bool is_gguf(const GridSpec& spec) { return spec.format != GridFormat::INT; }

void validate_grid(const GridSpec& spec, size_t n) {
  if (n == 0) throw vkq::Error("grid: a row has no columns (n = 0)");
  if (!is_gguf(spec)) {
    if (spec.bits < 2 || spec.bits > 8)
      throw vkq::Error("grid INT: bits = " + std::to_string(spec.bits) + " is outside 2..8");
    return;
  }
  if (spec.group != 0 && spec.group != kGgufBlock)
    throw vkq::Error(std::string("grid ") + format_name(spec.format) + ": group = " + std::to_string(spec.group) +
                     " but GGUF blocks are 32 columns (use 0 or 32)");
  if (n % kGgufBlock != 0)
    throw vkq::Error(std::string("grid ") + format_name(spec.format) + ": n = " + std::to_string(n) +
                     " columns is not a multiple of the 32-column block");
}

CodeRange code_range(const GridSpec& spec) {
  switch (spec.format) {
    case GridFormat::INT: return {0, (1 << spec.bits) - 1};
    case GridFormat::Q8_0: return {-127, 127};
    case GridFormat::Q4_0:
    case GridFormat::Q4_1: return {0, 15};
    case GridFormat::Q5_0:
    case GridFormat::Q5_1: return {0, 31};
    case GridFormat::IQ4: return {0, 15};
  }
  throw vkq::Error("grid: unknown format");
}

size_t group_size(const GridSpec& spec, size_t n) {
  if (is_gguf(spec)) return kGgufBlock;
  return spec.group == 0 ? n : std::min(spec.group, n);
}

size_t groups_per_row(const GridSpec& spec, size_t n) {
  const size_t g = group_size(spec, n);
  return (n + g - 1) / g;
}

GroupParams params_for(const double* w, size_t g, const GridSpec& spec, double shrink) {
  if (g == 0) throw vkq::Error("grid: empty group");
  check_finite(w, g);
  GroupParams p;
  switch (spec.format) {
    case GridFormat::INT: return int_params(w, g, spec, shrink);
    case GridFormat::Q8_0: {
      double amax = 0;
      for (size_t i = 0; i < g; ++i) amax = std::max(amax, std::fabs(w[i]));
      p.scale = stored_half(amax * shrink / 127, spec.format, "scale d");
      return p;
    }
    case GridFormat::Q4_0:
      p.scale = stored_half(signed_extreme(w, g) * shrink / -8, spec.format, "scale d");
      p.zero = 8;
      return p;
    case GridFormat::Q5_0:
      p.scale = stored_half(signed_extreme(w, g) * shrink / -16, spec.format, "scale d");
      p.zero = 16;
      return p;
    case GridFormat::Q4_1: return offset_params(w, g, spec.format, 15, shrink);
    case GridFormat::Q5_1: return offset_params(w, g, spec.format, 31, shrink);
    case GridFormat::IQ4:
      throw vkq::Error("grid IQ4: its scales come from the super-block search (IQ4_NL/IQ4_XS), not from min-max");
  }
  throw vkq::Error("grid: unknown format");
}

double stored_value(const GridSpec& spec, double v) {
  return is_gguf(spec) ? double(vkq::round_to_half(float(v))) : v;
}

bool code_near_tie(double w, const GroupParams& p, const GridSpec& spec, double rel) {
  if (p.scale == 0) return false;
  const double x = (w - p.min) / p.scale;
  const double ax = std::abs(x);
  const double at = spec.format == GridFormat::Q8_0 ? std::abs(ax - std::floor(ax) - 0.5) : std::abs(x - std::floor(x) - 0.5);
  return at < rel * (1 + ax);
}

int32_t quantize_value(double w, const GroupParams& p, const GridSpec& spec) {
  if (spec.format == GridFormat::IQ4) {  // the nearest of the 16 values; a tie takes the larger (ggml)
    const double x = p.scale != 0 ? w / p.scale : 0.0;
    int best = 0;
    for (int k = 1; k < 16; ++k)
      if (std::fabs(x - kIq4Values[k]) <= std::fabs(x - kIq4Values[best])) best = k;
    return best;
  }
  const CodeRange r = code_range(spec);
  const double x = p.scale != 0 ? (w - p.min) / p.scale : 0.0;  // ggml's id = 0 when d = 0
  const double q = spec.format == GridFormat::Q8_0 ? std::round(x) : std::floor(x + 0.5) + p.zero;
  // Clamp in double first: x may be far outside the int range.
  return int32_t(std::clamp(q, double(r.lo), double(r.hi)));
}

double dequantize_code(int32_t code, const GroupParams& p, const GridSpec& spec) {
  if (spec.format == GridFormat::IQ4) return p.scale * kIq4Values[code];
  return p.scale * (double(code) - p.zero) + p.min;
}

EncodedMatrix encode_with_params(const double* w, size_t m, size_t n, const GridSpec& spec,
                                 const std::vector<GroupParams>& params) {
  validate_grid(spec, n);
  EncodedMatrix e;
  e.rows = m;
  e.cols = n;
  e.groups_per_row = groups_per_row(spec, n);
  if (params.size() != m * e.groups_per_row)
    throw vkq::Error("grid: " + std::to_string(params.size()) + " group params given, expected rows × groups = " +
                     std::to_string(m * e.groups_per_row));
  e.params = params;
  e.codes.resize(m * n);
  const size_t g = group_size(spec, n);
  for (size_t i = 0; i < m; ++i)
    for (size_t j = 0; j < n; ++j)
      e.codes[i * n + j] = quantize_value(w[i * n + j], params[i * e.groups_per_row + j / g], spec);
  return e;
}

EncodedMatrix encode_matrix(const double* w, size_t m, size_t n, const GridSpec& spec) {
  validate_grid(spec, n);
  const size_t g = group_size(spec, n), ng = groups_per_row(spec, n);
  std::vector<GroupParams> params(m * ng);
  for (size_t i = 0; i < m; ++i)
    for (size_t k = 0; k < ng; ++k) {
      const size_t j0 = k * g, len = std::min(g, n - j0);
      params[i * ng + k] = params_for(w + i * n + j0, len, spec);
    }
  return encode_with_params(w, m, n, spec, params);
}

std::vector<double> decode_matrix(const EncodedMatrix& e, const GridSpec& spec) {
  const size_t g = group_size(spec, e.cols);
  std::vector<double> out(e.rows * e.cols);
  for (size_t i = 0; i < e.rows; ++i)
    for (size_t j = 0; j < e.cols; ++j)
      out[i * e.cols + j] = dequantize_code(e.codes[i * e.cols + j], e.params[i * e.groups_per_row + j / g], spec);
  return out;
}

}  // namespace vkq::ref
