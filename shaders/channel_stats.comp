#version 450
// channel_stats: per input channel sum |x| and sum x^2 over a chunk of tokens (ALGORITHMS.md §1),
// the saliency (act, act2) and scale-search statistics. Compensated like gram_accumulate.

#include "kahan.glsl"

layout(constant_id = 0) const uint WG = 64;
layout(constant_id = 1) const uint INPUT_F16 = 0;
layout(constant_id = 2) const uint KAHAN_TOKENS = 64;
layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer XBuf { uint xw[]; };
// [0..n): sum|x| hi, [n..2n): its compensation, [2n..3n): sum x^2 hi, [3n..4n): compensation
layout(std430, binding = 1) buffer Stats { float st[]; };

layout(push_constant) uniform Push {
  uint n;
  uint tokens;
  uint x_off;
} p;

float load_x(uint t, uint ch) {
  const uint e = p.x_off + t * p.n + ch;
  if (INPUT_F16 != 0) return unpackHalf2x16(xw[e >> 1])[e & 1u];
  return uintBitsToFloat(xw[e]);
}

void main() {
  const uint ch = gl_WorkGroupID.x * WG + gl_LocalInvocationID.x;
  if (ch >= p.n) return;
  precise float abs_hi = st[ch], abs_lo = st[p.n + ch];
  precise float sq_hi = st[2 * p.n + ch], sq_lo = st[3 * p.n + ch];
  for (uint t0 = 0; t0 < p.tokens; t0 += KAHAN_TOKENS) {
    float pa = 0.0, ps = 0.0;
    const uint t1 = min(p.tokens, t0 + KAHAN_TOKENS);
    for (uint t = t0; t < t1; ++t) {
      const float x = load_x(t, ch);
      pa += abs(x);
      ps = fma(x, x, ps);
    }
    kahan_add(abs_hi, abs_lo, pa);
    kahan_add(sq_hi, sq_lo, ps);
  }
  st[ch] = abs_hi;
  st[p.n + ch] = abs_lo;
  st[2 * p.n + ch] = sq_hi;
  st[3 * p.n + ch] = sq_lo;
}
