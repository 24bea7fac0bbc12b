#version 450
// clip_search for groups of at most SMALL_G (32) columns — every GGUF block and INT g ≤ 32: the same
// candidates, refits, scores and tie rule as clip_search.comp (read its header), laid out for small
// groups: one invocation per (row, group), one workgroup per (group column, WG rows), so the g × g
// block H̃_gg all rows of a group column share is loaded into shared memory once and every candidate
// is evaluated without a barrier. The row's values and Δ (or its codes) live in private arrays.

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

shared float hs[SMALL_G * SMALL_G];

float tv[SMALL_G];
float v[SMALL_G];
uint len;

float candidate_loss(vec4 prm) {
  for (uint j = 0; j < len; ++j) v[j] = tv[j] - grid_dequantize(grid_quantize(tv[j], prm, FORMAT, BITS), prm);
  float loss = 0.0;
  for (uint i = 0; i < len; ++i) {
    if (FULL_BLOCK == 0) {
      loss = fma(hs[i * SMALL_G + i] * v[i], v[i], loss);
      continue;
    }
    float hd = 0.0;
    for (uint j = 0; j < len; ++j) hd = fma(hs[i * SMALL_G + j], v[j], hd);
    loss = fma(v[i], hd, loss);
  }
  return loss;
}

// Least-squares refit of prm to its own codes, as clip_search.comp's refit.
bool refit(vec4 prm, out vec4 r) {
  for (uint j = 0; j < len; ++j) v[j] = float(grid_quantize(tv[j], prm, FORMAT, BITS)) - prm.y;
  float uhu = 0.0, uht = 0.0, uh1 = 0.0, oht = 0.0, oh1 = 0.0;
  for (uint i = 0; i < len; ++i) {
    float hu = 0.0, ht = 0.0, h1 = 0.0;
    if (FULL_BLOCK == 0) {
      const float hii = hs[i * SMALL_G + i];
      hu = hii * v[i], ht = hii * tv[i], h1 = hii;
    } else {
      for (uint j = 0; j < len; ++j) {
        const float hij = hs[i * SMALL_G + j];
        hu = fma(hij, v[j], hu);
        ht = fma(hij, tv[j], ht);
        h1 += hij;
      }
    }
    uhu += v[i] * hu, uht += v[i] * ht, uh1 += v[i] * h1, oht += ht, oh1 += h1;
  }
  return grid_refit_solve(uhu, uht, uh1, oht, oh1, prm, FORMAT, r);
}

void main() {
  const uint grp = gl_WorkGroupID.x;
  const uint lid = gl_LocalInvocationID.x;
  const uint j0 = grp * p.group;
  len = min(p.group, p.n - j0);
  for (uint e = lid; e < len * len; e += WG) hs[(e / len) * SMALL_G + e % len] = h[(j0 + e / len) * p.n + j0 + e % len];
  barrier();
  const uint row = gl_WorkGroupID.y * WG + lid;
  if (row >= p.m) return;  // no barrier follows
  const uint tbase = p.t_off + row * p.ldt;
  for (uint j = 0; j < len; ++j) tv[j] = t[tbase + j0 + j];
  GridAcc acc = grid_acc_first(tv[0]);
  for (uint j = 1; j < len; ++j) grid_acc_add(acc, tv[j]);

  float best_loss = 0.0;
  vec4 best = vec4(0.0);
  const uint total = grid_candidate_count(FORMAT, p.candidates, p.expand, p.about_min);
  for (uint c = 0; c < total; ++c) {
    const vec4 prm = grid_candidate(acc, FORMAT, BITS, SYMMETRIC != 0, c, p.candidates, p.expand, p.step);
    const float loss = candidate_loss(prm);
    if (c == 0 || loss < best_loss) {
      best_loss = loss;
      best = prm;
    }
    vec4 r;
    if (p.refit != 0u && refit(prm, r)) {
      const float rl = candidate_loss(r);
      if (rl < best_loss) {
        best_loss = rl;
        best = r;
      }
    }
  }
  params[row * p.groups + grp] = best;
}
