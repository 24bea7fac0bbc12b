#version 450
// clip_search: per (row, group) of T, candidates scale_c from the range shrunk by (1 − c·step),
// c = 0 … candidates − 1, each scored by the group's objective with Δ = t_g − ŵ_g(c):
// Δᵀ H̃_gg Δ over the full g × g block (FULL_BLOCK = 1) or Σ_j H̃_jj Δ_j² (ALGORITHMS.md §3 "scale/clip
// search", §4 GS). The first candidate of smallest loss wins (strict <), as reference/scale_search.
// One workgroup per (row, group); Δ of the current candidate goes to shared memory when the group
// fits (g ≤ SHARED_G), else to the group's slice of a scratch matrix (g may be as large as n); every
// invocation then forms Σ_j H̃_ij Δ_j for its rows i.

#include "grid.glsl"

layout(constant_id = 0) const uint WG = 64;  // a power of two
layout(constant_id = 1) const uint FORMAT = 0;
layout(constant_id = 2) const uint BITS = 4;
layout(constant_id = 3) const uint SYMMETRIC = 0;
layout(constant_id = 4) const uint FULL_BLOCK = 1;
layout(constant_id = 5) const uint SHARED_G = 1024;  // largest group whose Δ lives in shared memory
layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer TBuf { float t[]; };
layout(std430, binding = 1) readonly buffer HBuf { float h[]; };     // H̃, n × n row-major
layout(std430, binding = 2) coherent buffer DBuf { float delta[]; };  // scratch, m × n
layout(std430, binding = 3) writeonly buffer PBuf { vec4 params[]; }; // rows × groups

layout(push_constant) uniform Push {
  uint m, n;
  uint group;       // columns per group
  uint groups;      // groups per row
  uint ldt, t_off;  // T's row stride and first element
  uint candidates;
  float step;
} p;

shared float partial[WG];
shared float delta_s[SHARED_G];
shared GridAcc acc_s;

void main() {
  const uint id = gl_WorkGroupID.x;
  if (id >= p.m * p.groups) return;  // whole workgroup: barriers stay uniform
  const uint lid = gl_LocalInvocationID.x;
  const uint row = id / p.groups, grp = id % p.groups;
  const uint j0 = grp * p.group, j1 = min(j0 + p.group, p.n);
  const uint tbase = p.t_off + row * p.ldt, dbase = row * p.n;

  if (lid == 0) {  // column order matters for Q4_0/Q5_0's first extreme: one invocation folds it
    GridAcc a = grid_acc_first(t[tbase + j0]);
    for (uint j = j0 + 1; j < j1; ++j) grid_acc_add(a, t[tbase + j]);
    acc_s = a;
  }
  barrier();
  const GridAcc acc = acc_s;

  const bool in_shared = j1 - j0 <= SHARED_G;  // uniform over the workgroup
  float best_loss = 0.0;
  vec4 best = vec4(0.0);
  for (uint c = 0; c < p.candidates; ++c) {
    const float shrink = 1.0 - float(c) * p.step;
    const vec4 prm = grid_params(acc, FORMAT, BITS, SYMMETRIC != 0, shrink);
    float part = 0.0;
    for (uint j = j0 + lid; j < j1; j += WG) {
      const float w = t[tbase + j];
      const float d = w - grid_dequantize(grid_quantize(w, prm, FORMAT, BITS), prm);
      if (FULL_BLOCK == 0) part += h[j * p.n + j] * d * d;
      else if (in_shared) delta_s[j - j0] = d;
      else delta[dbase + j] = d;
    }
    if (FULL_BLOCK != 0) {
      memoryBarrierBuffer();
      barrier();
      if (in_shared) {
        for (uint i = j0 + lid; i < j1; i += WG) {
          float hd = 0.0;
          for (uint j = j0; j < j1; ++j) hd = fma(h[i * p.n + j], delta_s[j - j0], hd);
          part = fma(delta_s[i - j0], hd, part);
        }
      } else {
        for (uint i = j0 + lid; i < j1; i += WG) {
          float hd = 0.0;
          for (uint j = j0; j < j1; ++j) hd = fma(h[i * p.n + j], delta[dbase + j], hd);
          part = fma(delta[dbase + i], hd, part);
        }
      }
    }
    partial[lid] = part;
    barrier();
    for (uint w = WG / 2; w > 0; w >>= 1) {
      if (lid < w) partial[lid] += partial[lid + w];
      barrier();
    }
    const float loss = partial[0];
    if (c == 0 || loss < best_loss) {
      best_loss = loss;
      best = prm;
    }
    barrier();  // partial[0] and delta are rewritten by the next candidate
  }
  if (lid == 0) params[id] = best;
}
