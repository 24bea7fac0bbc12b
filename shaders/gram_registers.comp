#version 450
// gram_accumulate, CPU-device variant: S += X^T X over a chunk of tokens (ALGORITHMS.md §1).
// For devices whose shared memory is ordinary cache (lavapipe): no shared memory, no barriers;
// each invocation keeps a (4*R4) x (4*C4) block of S in registers and reads X as vec4 along the
// channels (fp32, or 4 packed fp16 as uvec2), since llvmpipe runs every buffer load as a per-lane
// loop. Needs n % 4 == 0 and x_off % 4 == 0 (the wrapper falls back to gram_accumulate.comp).
// Compensation as in gram_accumulate.comp: fp32 partial sums over at most KAHAN_TOKENS tokens,
// then Kahan-folded, then Kahan-added into (S_hi, S_lo). Only blocks on or above the diagonal run.

#include "kahan.glsl"

layout(constant_id = 0) const uint WG = 64;
layout(constant_id = 1) const uint R4 = 4;      // row block = 4*R4 channels
layout(constant_id = 2) const uint C4 = 2;      // column block = 4*C4 channels
layout(constant_id = 3) const uint INPUT_F16 = 0;
layout(constant_id = 4) const uint KAHAN_TOKENS = 128;
layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer XF { vec4 x4[]; };
layout(std430, binding = 0) readonly buffer XH { uvec2 xh4[]; };
layout(std430, binding = 1) buffer SHi { float s_hi[]; };
layout(std430, binding = 2) buffer SLo { float s_lo[]; };

layout(push_constant) uniform Push {
  uint n;
  uint tokens;
  uint x_off;
} p;

vec4 load4(uint t, uint ch) {  // channels ch..ch+3 of token t
  const uint e = (p.x_off + t * p.n + ch) / 4;
  if (INPUT_F16 != 0) {
    const uvec2 w = xh4[e];
    return vec4(unpackHalf2x16(w.x), unpackHalf2x16(w.y));
  }
  return x4[e];
}

void main() {
  const uint RB = 4 * R4, CB = 4 * C4;
  const uint col_blocks = (p.n + CB - 1) / CB;
  const uint block = gl_WorkGroupID.x * WG + gl_LocalInvocationID.x;
  const uint i0 = (block / col_blocks) * RB;
  const uint j0 = (block % col_blocks) * CB;
  if (i0 >= p.n || j0 + CB <= i0) return;  // outside, or entirely below the diagonal
  uint ich[R4], jch[C4];
  for (uint r = 0; r < R4; ++r) ich[r] = min(i0 + 4 * r, p.n - 4);
  for (uint q = 0; q < C4; ++q) jch[q] = min(j0 + 4 * q, p.n - 4);

  vec4 part[4 * R4][C4];
  precise vec4 acc[4 * R4][C4];
  precise vec4 comp[4 * R4][C4];
  for (uint r = 0; r < 4 * R4; ++r)
    for (uint q = 0; q < C4; ++q) { part[r][q] = vec4(0.0); acc[r][q] = vec4(0.0); comp[r][q] = vec4(0.0); }

  for (uint t0 = 0; t0 < p.tokens; t0 += KAHAN_TOKENS) {
    const uint t1 = min(p.tokens, t0 + KAHAN_TOKENS);
    for (uint t = t0; t < t1; ++t) {
      vec4 xj[C4];
      for (uint q = 0; q < C4; ++q) xj[q] = load4(t, jch[q]);
      for (uint r = 0; r < R4; ++r) {
        const vec4 xi = load4(t, ich[r]);
        for (uint q = 0; q < C4; ++q) {
          part[4 * r + 0][q] = fma(vec4(xi.x), xj[q], part[4 * r + 0][q]);
          part[4 * r + 1][q] = fma(vec4(xi.y), xj[q], part[4 * r + 1][q]);
          part[4 * r + 2][q] = fma(vec4(xi.z), xj[q], part[4 * r + 2][q]);
          part[4 * r + 3][q] = fma(vec4(xi.w), xj[q], part[4 * r + 3][q]);
        }
      }
    }
    for (uint r = 0; r < 4 * R4; ++r)
      for (uint q = 0; q < C4; ++q) {
        for (uint c = 0; c < 4; ++c) {
          precise float s = acc[r][q][c];
          precise float k = comp[r][q][c];
          kahan_add(s, k, part[r][q][c]);
          acc[r][q][c] = s;
          comp[r][q][c] = k;
        }
        part[r][q] = vec4(0.0);
      }
  }

  for (uint r = 0; r < 4 * R4; ++r) {
    const uint i = i0 + r;
    if (i >= p.n) break;
    for (uint q = 0; q < C4; ++q)
      for (uint c = 0; c < 4; ++c) {
        const uint j = j0 + 4 * q + c;
        if (j >= p.n || j < i) continue;  // upper triangle only; the mirror write covers the rest
        const uint idx = i * p.n + j;
        precise float hi = s_hi[idx];
        precise float lo = s_lo[idx];
        kahan_add(hi, lo, acc[r][q][c] - comp[r][q][c]);
        s_hi[idx] = hi;
        s_lo[idx] = lo;
        if (i != j) {
          s_hi[j * p.n + i] = hi;
          s_lo[j * p.n + i] = lo;
        }
      }
  }
}
