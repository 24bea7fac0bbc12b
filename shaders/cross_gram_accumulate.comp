#version 450
// cross_gram_accumulate: D_raw += w * ΔX^T X_q over a chunk of tokens, ΔX = X_f − X_q
// (ALGORITHMS.md §1 cross-Gram D = (2/N) ΔX X_qᵀ, §2 sampled α: w = α_s, else w = 1).
// X_f and X_q are tokens x n row-major fp32, so D_ij = Σ_t ΔX[t][i] X_q[t][j] (row i, column j).
// Not symmetric: every tile runs. Sums run in fp32 over at most KAHAN_TOKENS tokens, then fold into
// a Kahan-compensated accumulator; the weighted chunk result is added to (D_hi, D_lo) with
// compensation too, as in gram_accumulate.comp.

#include "kahan.glsl"

layout(constant_id = 0) const uint WG = 16;
layout(constant_id = 1) const uint TK = 16;
layout(constant_id = 2) const uint KAHAN_TOKENS = 64;
const uint MICRO = 4;
layout(local_size_x_id = 0, local_size_y_id = 0) in;

layout(std430, binding = 0) readonly buffer XfBuf { float xf[]; };
layout(std430, binding = 1) readonly buffer XqBuf { float xq[]; };
layout(std430, binding = 2) buffer DHi { float d_hi[]; };
layout(std430, binding = 3) buffer DLo { float d_lo[]; };

layout(push_constant) uniform Push {
  uint n;         // channels
  uint tokens;    // tokens in this chunk
  uint xf_off;    // element offset of the chunk's first token in X_f
  uint xq_off;    // same in X_q
  float weight;   // w: α_s of this sequence, or 1
} p;

shared float Di[TK][WG * MICRO];  // ΔX tile: tokens x rows i
shared float Qj[TK][WG * MICRO];  // X_q tile: tokens x columns j

void main() {
  const uint TILE = WG * MICRO;
  const uint bi = gl_WorkGroupID.y, bj = gl_WorkGroupID.x;
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
      const uint t = t0 + kk;
      float dv = 0.0, qv = 0.0;
      if (t < p.tokens) {
        const uint ci = i0 + rr, cj = j0 + rr;
        if (ci < p.n) dv = xf[p.xf_off + t * p.n + ci] - xq[p.xq_off + t * p.n + ci];
        if (cj < p.n) qv = xq[p.xq_off + t * p.n + cj];
      }
      Di[kk][rr] = dv;
      Qj[kk][rr] = qv;
    }
    barrier();
    for (uint kk = 0; kk < TK; ++kk) {
      float av[MICRO], bv[MICRO];
      for (uint r = 0; r < MICRO; ++r) av[r] = Di[kk][ty + r * WG];
      for (uint q = 0; q < MICRO; ++q) bv[q] = Qj[kk][tx + q * WG];
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
      precise float hi = d_hi[idx];
      precise float lo = d_lo[idx];
      kahan_add(hi, lo, p.weight * (acc[r][q] - comp[r][q]));
      d_hi[idx] = hi;
      d_lo[idx] = lo;
    }
  }
}
