#version 450
// clip_search for groups of at most SMALL_G (32) columns — every GGUF block and INT g ≤ 32: the same
// candidates, refits, scores and tie rule as clip_search.comp (read its header), laid out for small
// groups: one invocation per (row, group), one workgroup per (group column, WG rows), so the g × g
// block H̃_gg all rows of a group column share is loaded into shared memory once and every candidate
// is evaluated without a barrier. The row's values and Δ (or its codes) live in private arrays.
// Everything is held as vec4 along the columns, zero-padded to a multiple of 4 (zero rows and columns of
// the block make the padding drop out of every sum): llvmpipe runs each load as a per-lane loop, so a
// vec4 load costs about a scalar one, and the candidate-independent sums (H̃t, H̃1) are made once per row.

#include "grid.glsl"

layout(constant_id = 0) const uint WG = 64;
layout(constant_id = 1) const uint FORMAT = 0;
layout(constant_id = 2) const uint BITS = 4;
layout(constant_id = 3) const uint SYMMETRIC = 0;
layout(constant_id = 4) const uint FULL_BLOCK = 1;
layout(local_size_x_id = 0) in;

const uint SMALL_G = 32;

layout(std430, binding = 0) readonly buffer TBuf { float t[]; };
layout(std430, binding = 1) readonly buffer HBuf { float h[]; };     // H̃, n × n row-major
layout(std430, binding = 2) writeonly buffer PBuf { vec4 params[]; }; // rows × groups

layout(push_constant) uniform Push {
  uint m, n;
  uint group;       // columns per group, ≤ SMALL_G
  uint groups;      // groups per row
  uint ldt, t_off;  // T's row stride and first element
  uint candidates;
  float step;
  uint expand;
  uint refit;
  uint about_min;  // Q4_1/Q5_1: also the ranges scaled about the min (grid_candidate)
} p;

const uint Q = SMALL_G / 4;             // vec4s per block row
shared vec4 hs4[SMALL_G * Q];           // H̃_gg: row i, columns 4c..4c+3 at hs4[i * Q + c]; zero past len
shared vec4 hdiag4[Q];                  // its diagonal
shared vec4 hrow4[Q];                   // its row sums H̃1

vec4 tv4[Q];   // the row's values in the group, zero past len
vec4 d4[Q];    // Δ = t − q of the candidate
vec4 u4[Q];    // the candidate's codes minus the zero (for its refit)
vec4 r4[Q];    // Δ of the previous candidate's refit, still to be scored
vec4 ht4[Q];   // H̃t (diagonal: diag H̃ · t), the same for every candidate
uint len, len4;

vec4 residual4(vec4 w, vec4 prm) {
  return w - vec4(grid_dequantize(grid_quantize(w.x, prm, FORMAT, BITS), prm),
                  grid_dequantize(grid_quantize(w.y, prm, FORMAT, BITS), prm),
                  grid_dequantize(grid_quantize(w.z, prm, FORMAT, BITS), prm),
                  grid_dequantize(grid_quantize(w.w, prm, FORMAT, BITS), prm));
}

vec4 codes4(vec4 w, vec4 prm) {
  return vec4(float(grid_quantize(w.x, prm, FORMAT, BITS)), float(grid_quantize(w.y, prm, FORMAT, BITS)),
              float(grid_quantize(w.z, prm, FORMAT, BITS)), float(grid_quantize(w.w, prm, FORMAT, BITS))) - prm.y;
}

// Rows 4·i4 … 4·i4+3 of H̃_gg times d4, u4 and r4 in one pass over the block: every H̃ load serves the
// candidate's loss, its refit and the previous refit's loss (diagonal score: diag H̃ only).
void block_products(uint i4, bool with_u, bool with_r, out vec4 hd, out vec4 hu, out vec4 hr) {
  hd = vec4(0.0), hu = vec4(0.0), hr = vec4(0.0);
  if (FULL_BLOCK == 0) {
    const vec4 dg = hdiag4[i4];
    hd = dg * d4[i4], hu = dg * u4[i4], hr = dg * r4[i4];
    return;
  }
  for (uint c = 0; c < len4; ++c) {
    const uint b = 4u * i4 * Q + c;
    const vec4 h0 = hs4[b], h1 = hs4[b + Q], h2 = hs4[b + 2u * Q], h3 = hs4[b + 3u * Q];
    const vec4 dc = d4[c];
    hd += vec4(dot(h0, dc), dot(h1, dc), dot(h2, dc), dot(h3, dc));
    if (with_u) {
      const vec4 uc = u4[c];
      hu += vec4(dot(h0, uc), dot(h1, uc), dot(h2, uc), dot(h3, uc));
    }
    if (with_r) {
      const vec4 rc = r4[c];
      hr += vec4(dot(h0, rc), dot(h1, rc), dot(h2, rc), dot(h3, rc));
    }
  }
}

void main() {
  const uint grp = gl_WorkGroupID.x;
  const uint lid = gl_LocalInvocationID.x;
  const uint j0 = grp * p.group;
  len = min(p.group, p.n - j0);
  len4 = (len + 3u) / 4u;
  for (uint e = lid; e < SMALL_G * Q; e += WG) {
    const uint i = e / Q, c0 = (e % Q) * 4u;
    vec4 x = vec4(0.0);
    if (i < len)
      for (uint k = 0; k < 4u; ++k)
        if (c0 + k < len) x[k] = h[(j0 + i) * p.n + j0 + c0 + k];
    hs4[e] = x;
  }
  barrier();
  for (uint c = lid; c < Q; c += WG) {
    vec4 d, rs;
    for (uint k = 0; k < 4u; ++k) {
      const uint i = 4u * c + k;
      d[k] = hs4[i * Q + c][k];
      vec4 acc = vec4(0.0);
      for (uint q = 0; q < Q; ++q) acc += hs4[i * Q + q];
      rs[k] = dot(acc, vec4(1.0));
    }
    hdiag4[c] = d;
    hrow4[c] = rs;
  }
  barrier();
  const uint row = gl_WorkGroupID.y * WG + lid;
  if (row >= p.m) return;  // no barrier follows
  const uint tbase = p.t_off + row * p.ldt + j0;
  for (uint c = 0; c < len4; ++c) {
    vec4 x = vec4(0.0);
    for (uint k = 0; k < 4u; ++k)
      if (4u * c + k < len) x[k] = t[tbase + 4u * c + k];
    tv4[c] = x;
  }
  GridAcc acc = grid_acc_first(tv4[0].x);
  for (uint j = 1; j < len; ++j) grid_acc_add(acc, tv4[j / 4u][j % 4u]);
  float oht = 0.0, oh1 = 0.0;
  for (uint c = 0; c < len4; ++c) d4[c] = tv4[c];  // H̃t through the same product
  for (uint i4 = 0; i4 < len4; ++i4) {
    vec4 hd, hu, hr;
    block_products(i4, false, false, hd, hu, hr);
    ht4[i4] = hd;
    oht += dot(hd, vec4(1.0));
    oh1 += dot(FULL_BLOCK == 0 ? hdiag4[i4] : hrow4[i4], vec4(1.0));
  }

  // Candidates in order, each scored, then refitted; a refit's loss is scored in the next candidate's pass
  // over H̃ (before that candidate's, so the tie rule sees the reference's order), the last one after the loop.
  float best_loss = 0.0;
  vec4 best = vec4(0.0);
  bool pending = false;  // r4 holds a refit (pending_prm) still to be scored
  vec4 pending_prm = vec4(0.0);
  const uint total = grid_candidate_count(FORMAT, p.candidates, p.expand, p.about_min);
  for (uint c = 0; c <= total; ++c) {
    const bool last = c == total;
    if (last && !pending) break;
    const vec4 prm = last ? pending_prm : grid_candidate(acc, FORMAT, BITS, SYMMETRIC != 0, c, p.candidates, p.expand, p.step);
    const bool with_u = !last && p.refit != 0u;
    for (uint k = 0; k < len4; ++k) {
      d4[k] = residual4(tv4[k], prm);  // the last pass: the pending refit's Δ is r4, d4 unused
      if (with_u) u4[k] = codes4(tv4[k], prm);
    }
    float loss = 0.0, rloss = 0.0, uhu = 0.0, uht = 0.0, uh1 = 0.0;
    for (uint i4 = 0; i4 < len4; ++i4) {
      vec4 hd, hu, hr;
      block_products(i4, with_u, pending, hd, hu, hr);
      loss += dot(d4[i4], hd);
      rloss += dot(r4[i4], hr);
      if (with_u) {
        uhu += dot(u4[i4], hu), uht += dot(u4[i4], ht4[i4]);
        uh1 += dot(u4[i4], FULL_BLOCK == 0 ? hdiag4[i4] : hrow4[i4]);
      }
    }
    if (pending && rloss < best_loss) {
      best_loss = rloss;
      best = pending_prm;
    }
    pending = false;
    if (last) break;
    if (c == 0 || loss < best_loss) {
      best_loss = loss;
      best = prm;
    }
    vec4 r;
    if (with_u && grid_refit_solve(uhu, uht, uh1, oht, oh1, prm, FORMAT, r)) {
      for (uint k = 0; k < len4; ++k) r4[k] = residual4(tv4[k], r);
      pending = true;
      pending_prm = r;
    }
  }
  params[row * p.groups + grp] = best;
}
