#version 450
// cross_gram_accumulate, CPU-device variant: D_raw += w · ΔXᵀ X_q over a chunk of tokens, ΔX = X_f − X_q
// (ALGORITHMS.md §1–§2; the tiled GPU form and its conventions: cross_gram_accumulate.comp). As
// gram_registers.comp: no shared memory, no barriers; each invocation keeps a (4*R4) x (4*C4) block of D in
// registers and reads X_f and X_q as vec4 along the channels, since llvmpipe runs every buffer load as a
// per-lane loop. D is not symmetric, so every block runs. Needs n, xf_off and xq_off multiples of 4 (the
// wrapper falls back to cross_gram_accumulate.comp). Compensation as in the tiled form: fp32 partial sums
// over at most KAHAN_TOKENS tokens, Kahan-folded, and the weighted chunk Kahan-added into (D_hi, D_lo).

#include "kahan.glsl"

layout(constant_id = 0) const uint WG = 64;
layout(constant_id = 1) const uint R4 = 4;  // row block = 4*R4 channels i (of ΔX)
layout(constant_id = 2) const uint C4 = 2;  // column block = 4*C4 channels j (of X_q)
layout(constant_id = 3) const uint KAHAN_TOKENS = 128;
layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer XfBuf { vec4 xf4[]; };
layout(std430, binding = 1) readonly buffer XqBuf { vec4 xq4[]; };
layout(std430, binding = 2) buffer DHi { float d_hi[]; };
layout(std430, binding = 3) buffer DLo { float d_lo[]; };

layout(push_constant) uniform Push {
  uint n;         // channels
  uint tokens;    // tokens in this chunk
  uint xf_off;    // element offset of the chunk's first token in X_f
  uint xq_off;    // same in X_q
  float weight;   // w: α_s of this sequence, or 1
} p;

void main() {
  const uint RB = 4 * R4, CB = 4 * C4;
  const uint col_blocks = (p.n + CB - 1) / CB;
  const uint block = gl_WorkGroupID.x * WG + gl_LocalInvocationID.x;
  const uint i0 = (block / col_blocks) * RB;
  const uint j0 = (block % col_blocks) * CB;
  if (i0 >= p.n) return;
  uint ich[R4], jch[C4];  // clamped so the edge blocks read in bounds; their extra rows/columns are not written
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
      const uint fo = (p.xf_off + t * p.n) / 4, qo = (p.xq_off + t * p.n) / 4;
      vec4 xj[C4];
      for (uint q = 0; q < C4; ++q) xj[q] = xq4[qo + jch[q] / 4];
      for (uint r = 0; r < R4; ++r) {
        const vec4 di = xf4[fo + ich[r] / 4] - xq4[qo + ich[r] / 4];
        for (uint q = 0; q < C4; ++q) {
          part[4 * r + 0][q] = fma(vec4(di.x), xj[q], part[4 * r + 0][q]);
          part[4 * r + 1][q] = fma(vec4(di.y), xj[q], part[4 * r + 1][q]);
          part[4 * r + 2][q] = fma(vec4(di.z), xj[q], part[4 * r + 2][q]);
          part[4 * r + 3][q] = fma(vec4(di.w), xj[q], part[4 * r + 3][q]);
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
    // Row r of the block is channel ich[r/4] + r%4: below i0 + r only where the last block was clamped.
    const uint i = ich[r / 4] + r % 4;
    if (i != i0 + r) continue;
    for (uint q = 0; q < C4; ++q)
      for (uint c = 0; c < 4; ++c) {
        const uint j = jch[q] + c;
        if (j != j0 + 4 * q + c) continue;
        const uint idx = i * p.n + j;
        precise float hi = d_hi[idx];
        precise float lo = d_lo[idx];
        kahan_add(hi, lo, p.weight * (acc[r][q][c] - comp[r][q][c]));
        d_hi[idx] = hi;
        d_lo[idx] = lo;
      }
  }
}
