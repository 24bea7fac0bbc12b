#version 450
// gram_accumulate: S += X^T X over a chunk of tokens (ALGORITHMS.md §1; H = (2/N) S at the end).
// X is tokens x n row-major, fp32 or fp16 (INPUT_F16), read as 32-bit words.
// Sums run in fp32 over at most KAHAN_TOKENS tokens, then are folded into a Kahan-compensated
// accumulator, and the chunk result is added to the (S_hi, S_lo) pair with compensation too,
// so accuracy holds over 100k+ tokens. Only upper-triangle tiles run; each writes both halves.

#include "kahan.glsl"

layout(constant_id = 0) const uint WG = 16;
layout(constant_id = 1) const uint TK = 16;
layout(constant_id = 2) const uint INPUT_F16 = 0;
layout(constant_id = 3) const uint KAHAN_TOKENS = 64;
const uint MICRO = 4;
layout(local_size_x_id = 0, local_size_y_id = 0) in;

layout(std430, binding = 0) readonly buffer XBuf { uint xw[]; };
layout(std430, binding = 1) buffer SHi { float s_hi[]; };
layout(std430, binding = 2) buffer SLo { float s_lo[]; };

layout(push_constant) uniform Push {
  uint n;         // channels
  uint tokens;    // tokens in this chunk
  uint x_off;     // element offset of the chunk's first token
} p;

shared float Xi[TK][WG * MICRO];
shared float Xj[TK][WG * MICRO];

float load_x(uint t, uint ch) {
  if (t >= p.tokens || ch >= p.n) return 0.0;
  const uint e = p.x_off + t * p.n + ch;
  if (INPUT_F16 != 0) return unpackHalf2x16(xw[e >> 1])[e & 1u];
  return uintBitsToFloat(xw[e]);
}

void main() {
  const uint TILE = WG * MICRO;
  const uint bi = gl_WorkGroupID.y, bj = gl_WorkGroupID.x;
  if (bi > bj) return;  // symmetric: the mirror tile writes this one
  const uint tx = gl_LocalInvocationID.x, ty = gl_LocalInvocationID.y;
  const uint lid = ty * WG + tx;
  const uint i0 = bi * TILE, j0 = bj * TILE;

  float part[MICRO][MICRO];
  precise float acc[MICRO][MICRO];
  precise float comp[MICRO][MICRO];
  for (uint r = 0; r < MICRO; ++r)
    for (uint q = 0; q < MICRO; ++q) { part[r][q] = 0.0; acc[r][q] = 0.0; comp[r][q] = 0.0; }

  uint since_fold = 0;
  for (uint t0 = 0; t0 < p.tokens; t0 += TK) {
    for (uint e = lid; e < TILE * TK; e += WG * WG) {
      const uint kk = e / TILE, rr = e % TILE;
      Xi[kk][rr] = load_x(t0 + kk, i0 + rr);
      Xj[kk][rr] = load_x(t0 + kk, j0 + rr);
    }
    barrier();
    for (uint kk = 0; kk < TK; ++kk) {
      float av[MICRO], bv[MICRO];
      for (uint r = 0; r < MICRO; ++r) av[r] = Xi[kk][ty + r * WG];
      for (uint q = 0; q < MICRO; ++q) bv[q] = Xj[kk][tx + q * WG];
      for (uint r = 0; r < MICRO; ++r)
        for (uint q = 0; q < MICRO; ++q) part[r][q] = fma(av[r], bv[q], part[r][q]);
    }
    barrier();
    since_fold += TK;
    if (since_fold >= KAHAN_TOKENS || t0 + TK >= p.tokens) {
      for (uint r = 0; r < MICRO; ++r)
        for (uint q = 0; q < MICRO; ++q) {
          kahan_add(acc[r][q], comp[r][q], part[r][q]);
          part[r][q] = 0.0;
        }
      since_fold = 0;
    }
  }

  for (uint r = 0; r < MICRO; ++r) {
    const uint i = i0 + ty + r * WG;
    if (i >= p.n) continue;
    for (uint q = 0; q < MICRO; ++q) {
      const uint j = j0 + tx + q * WG;
      if (j >= p.n) continue;
      const uint idx = i * p.n + j;
      precise float hi = s_hi[idx];
      precise float lo = s_lo[idx];
      kahan_add(hi, lo, acc[r][q] - comp[r][q]);
      s_hi[idx] = hi;
      s_lo[idx] = lo;
      if (bi != bj) {  // mirror into the lower triangle
        const uint m = j * p.n + i;
        s_hi[m] = hi;
        s_lo[m] = lo;
      }
    }
  }
}
