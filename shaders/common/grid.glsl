// ALGORITHMS.md §3 — grids on the device: the generic b-bit integer grid (2..8 bits, symmetric or
// asymmetric) and the GGUF legacy blocks Q8_0, Q4_0, Q4_1, Q5_0, Q5_1. The same conventions as
// src/reference/grid.hpp (read its header); the reference computes in float64, this in fp32, so a
// code can differ only where w/scale lies within fp32 rounding of a rounding boundary (a near-tie),
// and then by exactly one step. The symmetric INT grid puts a group's negative extreme exactly on a
// tie (x = −maxq/2), so there fp32 and float64 break the tie independently.
//
// Device layout of GroupParams (one per (row, group)): vec4(scale, zero, min, 0); every format
// dequantizes as ŵ = scale·(q − zero) + min (INT: min = 0; Q8_0/Q4_0/Q5_0: zero = 0/8/16, min = 0;
// Q4_1/Q5_1: zero = 0, min = m). GGUF scale and min are fp16-rounded before any weight is rounded.
//
// Usage: fold a group into a GridAcc (grid_acc_first, then grid_acc_add in column order, or
// grid_acc_merge(earlier, later) in a reduction), grid_params(acc, ...) -> vec4, then
// grid_quantize(w, params, ...) -> code and grid_dequantize(code, params) -> ŵ.

#ifndef VKQ_GRID_GLSL
#define VKQ_GRID_GLSL

// Same numbering as vkq::ref::GridFormat.
const uint GRID_INT = 0u;
const uint GRID_Q8_0 = 1u;
const uint GRID_Q4_0 = 2u;
const uint GRID_Q4_1 = 3u;
const uint GRID_Q5_0 = 4u;
const uint GRID_Q5_1 = 5u;
const uint GRID_IQ4 = 6u;  // ggml's non-linear 16-value grid; params always given, with vec4.w = 1

// ggml's kvalues_iq4nl (reference/layer_spec.hpp kIq4Values).
const float GRID_IQ4_VALUES[16] = float[16](-127.0, -104.0, -83.0, -65.0, -49.0, -35.0, -22.0, -10.0, 1.0, 13.0, 25.0,
                                            38.0, 53.0, 69.0, 89.0, 113.0);

// Running min-max statistics of one group, in column order.
struct GridAcc {
  float lo;    // min w
  float hi;    // max w
  float amax;  // max |w|
  float vext;  // the first value of largest magnitude (Q4_0/Q5_0's signed v)
};

GridAcc grid_acc_first(float w) { return GridAcc(w, w, abs(w), w); }

void grid_acc_add(inout GridAcc a, float w) {
  a.lo = min(a.lo, w);
  a.hi = max(a.hi, w);
  if (abs(w) > a.amax) {  // strict: the first value of largest magnitude wins ties (ggml)
    a.amax = abs(w);
    a.vext = w;
  }
}

// `later` covers columns after `earlier`'s, so ties keep `earlier`'s extreme.
GridAcc grid_acc_merge(GridAcc earlier, GridAcc later) {
  GridAcc r = earlier;
  r.lo = min(earlier.lo, later.lo);
  r.hi = max(earlier.hi, later.hi);
  if (later.amax > earlier.amax) {
    r.amax = later.amax;
    r.vext = later.vext;
  }
  return r;
}

// Round to the nearest fp16 value, ties to even, in integer arithmetic: packHalf2x16's rounding
// mode is implementation-defined in Vulkan, and GGUF codes must be rounded against exactly the
// stored value. Overflow gives ±inf (the host rejects non-finite params, as the reference does).
float grid_round_half(float x) {
  const float ax = abs(x);
  if (isnan(x)) return x;
  if (ax >= 65520.0) return uintBitsToFloat((floatBitsToUint(x) & 0x80000000u) | 0x7f800000u);  // ±inf
  if (ax < 6.103515625e-05) {  // fp16 subnormal range: multiples of 2^-24, exact in fp32
    return roundEven(x * 16777216.0) * 5.9604644775390625e-08;
  }
  uint u = floatBitsToUint(x);
  const uint rem = u & 0x1fffu;
  u >>= 13;
  if (rem > 0x1000u || (rem == 0x1000u && (u & 1u) != 0u)) u += 1u;  // a carry bumps the exponent
  return uintBitsToFloat(u << 13);
}

// Inclusive code range: INT [0, 2^b − 1], Q8_0 [−127, 127], Q4 [0, 15], Q5 [0, 31].
ivec2 grid_code_range(uint fmt, uint bits) {
  if (fmt == GRID_INT) return ivec2(0, (1 << int(bits)) - 1);
  if (fmt == GRID_Q8_0) return ivec2(-127, 127);
  if (fmt == GRID_Q4_0 || fmt == GRID_Q4_1 || fmt == GRID_IQ4) return ivec2(0, 15);
  return ivec2(0, 31);
}

// Min-max params of a group; `shrink` (≤ 1, clip search) scales the range: INT/Q4_1/Q5_1 shrink
// min and max alike, Q8_0 shrinks amax, Q4_0/Q5_0 shrink v.
vec4 grid_params(GridAcc a, uint fmt, uint bits, bool symmetric, float shrink) {
  if (fmt == GRID_INT) {
    const float maxq = float((1 << int(bits)) - 1);
    float lo = min(a.lo, 0.0) * shrink;  // the range is widened to contain 0 (GPTQ)
    float hi = max(a.hi, 0.0) * shrink;
    if (symmetric) {
      const float am = max(-lo, hi);
      lo = -am;
      hi = am;
    }
    // Scale-0 guard: GPTQ's range [−1, 1], codes decode to 0. Its zero point maxq/2 + 0.5 is an
    // exact tie that fp32 would round down; the reference's value is (maxq + 1)/2 for every b.
    if (lo == 0.0 && hi == 0.0) return vec4(2.0 / maxq, (maxq + 1.0) * 0.5, 0.0, 0.0);
    const float scale = (hi - lo) / maxq;
    const float zero = symmetric ? (maxq + 1.0) * 0.5 : floor(-lo / scale + 0.5);
    return vec4(scale, zero, 0.0, 0.0);
  }
  if (fmt == GRID_Q8_0) return vec4(grid_round_half(a.amax * shrink / 127.0), 0.0, 0.0, 0.0);
  if (fmt == GRID_Q4_0) return vec4(grid_round_half(a.vext * shrink / -8.0), 8.0, 0.0, 0.0);
  if (fmt == GRID_Q5_0) return vec4(grid_round_half(a.vext * shrink / -16.0), 16.0, 0.0, 0.0);
  const float levels = fmt == GRID_Q4_1 ? 15.0 : 31.0;
  const float lo = a.lo * shrink, hi = a.hi * shrink;
  return vec4(grid_round_half((hi - lo) / levels), 0.0, grid_round_half(lo), 0.0);
}

// Q4_1/Q5_1 range scaled about the group's min (the max moves, the min stays): the family that holds
// a block already on a coarser offset lattice (a Q4_1 block is exact in Q5_1 at 31/30 of min-max).
vec4 grid_params_about_min(GridAcc a, uint fmt, float factor) {
  const float levels = fmt == GRID_Q4_1 ? 15.0 : 31.0;
  return vec4(grid_round_half((a.hi - a.lo) * factor / levels), 0.0, grid_round_half(a.lo), 0.0);
}

// Number of scale-search candidates: `candidates` shrinking factors, `expand` widening ones, and with
// `about_min` (offset formats only) both families again about the min, without its factor 1.
uint grid_candidate_count(uint fmt, uint candidates, uint expand, uint about_min) {
  const bool offset = fmt == GRID_Q4_1 || fmt == GRID_Q5_1;
  return candidates + expand + (about_min != 0u && offset ? candidates - 1u + expand : 0u);
}

// Params of candidate c (reference: ref::clip_search_group's order): 1 − c·step for c < candidates,
// then 1 + e·step, then (about the min) 1 − c'·step for c' = 1 … candidates − 1 and 1 + e·step.
vec4 grid_candidate(GridAcc a, uint fmt, uint bits, bool symmetric, uint c, uint candidates, uint expand, float step) {
  if (c < candidates) return grid_params(a, fmt, bits, symmetric, 1.0 - float(c) * step);
  c -= candidates;
  if (c < expand) return grid_params(a, fmt, bits, symmetric, 1.0 + float(c + 1u) * step);
  c -= expand;
  if (c < candidates - 1u) return grid_params_about_min(a, fmt, 1.0 - float(c + 1u) * step);
  return grid_params_about_min(a, fmt, 1.0 + float(c - candidates + 2u) * step);
}

// Code of w: x = (w − min)/scale (0 when scale = 0); Q8_0 rounds half away from zero, every other
// format floor(x + 0.5) + zero; clamped to the code range (in float first: x may be huge).
int grid_quantize(float w, vec4 p, uint fmt, uint bits) {
  if (fmt == GRID_IQ4) {  // the nearest of the 16 values; a tie takes the larger (ggml, the reference)
    const float x = p.x != 0.0 ? w / p.x : 0.0;
    int best = 0;
    for (int k = 1; k < 16; ++k)
      if (abs(x - GRID_IQ4_VALUES[k]) <= abs(x - GRID_IQ4_VALUES[best])) best = k;
    return best;
  }
  const ivec2 r = grid_code_range(fmt, bits);
  const float x = p.x != 0.0 ? (w - p.z) / p.x : 0.0;
  const float q = fmt == GRID_Q8_0 ? sign(x) * floor(abs(x) + 0.5) : floor(x + 0.5) + p.y;
  return int(clamp(q, float(r.x), float(r.y)));
}

// p.w ≠ 0 marks IQ4 params (the non-linear grid's value table), so callers need not know the format.
float grid_dequantize(int code, vec4 p) {
  if (p.w != 0.0) return p.x * GRID_IQ4_VALUES[clamp(code, 0, 15)];
  return p.x * (float(code) - p.y) + p.z;
}

// Least-squares refit of a group's params to the codes u = q − zero that `prm` gives (reference:
// ref::refit_group_params), from the weighted sums uᵀHu, uᵀHt, uᵀH1, 1ᵀHt, 1ᵀH1: the scale of ŵ = s·u, and
// for Q4_1/Q5_1 also the min of ŵ = s·q + m; GGUF values stored-rounded to fp16. False when the system is
// singular, the fit flips the sign of the scale or is not finite.
bool grid_refit_solve(float uhu, float uht, float uh1, float oht, float oh1, vec4 prm, uint fmt, out vec4 r) {
  const bool offset = fmt == GRID_Q4_1 || fmt == GRID_Q5_1;
  float s, mn = prm.z;
  if (offset) {
    const float det = uhu * oh1 - uh1 * uh1;
    if (!(det > 1e-12 * uhu * oh1)) return false;
    s = (uht * oh1 - oht * uh1) / det;
    mn = (uhu * oht - uh1 * uht) / det;
  } else {
    if (!(uhu > 0.0)) return false;
    s = uht / uhu;
  }
  if (fmt != GRID_INT) {
    s = grid_round_half(s);
    if (offset) mn = grid_round_half(mn);
  }
  if (isinf(s) || isnan(s) || isinf(mn) || isnan(mn) || !(s * prm.x > 0.0)) return false;
  r = vec4(s, prm.y, mn, 0.0);
  return true;
}

#endif  // VKQ_GRID_GLSL
