#version 450
// clip_search: per (row, group) of T, candidates from the min-max range scaled by (1 − c·step),
// c = 0 … candidates − 1, then by (1 + e·step), e = 1 … expand, and with about_min (Q4_1/Q5_1) both
// families again scaling the range about the min (grid_candidate); with refit each is followed by
// its least-squares refit (the scale, and Q4_1/Q5_1's min, fitted to the candidate's codes with the
// weights of the score, then stored-rounded). Each is scored by the group's objective with
// Δ = t_g − ŵ_g: Δᵀ H̃_gg Δ over the full g × g block (FULL_BLOCK = 1) or Σ_j H̃_jj Δ_j² (ALGORITHMS.md §3
// "scale/clip search", §4 GS). The first candidate of smallest loss wins (strict <), as
// reference/scale_search. One workgroup per (row, group); a per-column vector (Δ, or the codes u for
// the refit) goes to shared memory when the group fits (g ≤ SHARED_G), else to the group's slice of a
// scratch matrix (g may be as large as n); every invocation then forms Σ_j H̃_ij v_j for its rows i.

#include "grid.glsl"

layout(constant_id = 0) const uint WG = 64;  // a power of two
layout(constant_id = 1) const uint FORMAT = 0;
layout(constant_id = 2) const uint BITS = 4;
layout(constant_id = 3) const uint SYMMETRIC = 0;
layout(constant_id = 4) const uint FULL_BLOCK = 1;
layout(constant_id = 5) const uint SHARED_G = 1024;  // largest group whose vector lives in shared memory
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
  uint expand;
  uint refit;
  uint about_min;  // Q4_1/Q5_1: also the ranges scaled about the min (grid_candidate)
} p;

shared vec4 partial[WG];
shared float vec_s[SHARED_G];
shared GridAcc acc_s;

uint row, j0, j1, tbase, dbase, lid;
bool in_shared;

void store_v(uint j, float v) {
  if (in_shared) vec_s[j - j0] = v;
  else delta[dbase + j] = v;
}

float load_v(uint j) { return in_shared ? vec_s[j - j0] : delta[dbase + j]; }

// Sum of a vec4 over the workgroup; every invocation gets the result.
vec4 reduce(vec4 part) {
  partial[lid] = part;
  barrier();
  for (uint w = WG / 2; w > 0; w >>= 1) {
    if (lid < w) partial[lid] += partial[lid + w];
    barrier();
  }
  const vec4 r = partial[0];
  barrier();  // partial[0] is rewritten by the next reduction
  return r;
}

float candidate_loss(vec4 prm) {
  float part = 0.0;
  for (uint j = j0 + lid; j < j1; j += WG) {
    const float w = t[tbase + j];
    const float d = w - grid_dequantize(grid_quantize(w, prm, FORMAT, BITS), prm);
    if (FULL_BLOCK == 0) part += h[j * p.n + j] * d * d;
    else store_v(j, d);
  }
  if (FULL_BLOCK != 0) {
    memoryBarrierBuffer();
    barrier();
    for (uint i = j0 + lid; i < j1; i += WG) {
      float hd = 0.0;
      for (uint j = j0; j < j1; ++j) hd = fma(h[i * p.n + j], load_v(j), hd);
      part = fma(load_v(i), hd, part);
    }
  }
  const float loss = reduce(vec4(part, 0.0, 0.0, 0.0)).x;
  memoryBarrierBuffer();  // the vector is rewritten next
  return loss;
}

// Least-squares refit of prm to its own codes (reference::refit_group_params); false when singular,
// sign-flipping or not storable.
bool refit(vec4 prm, out vec4 r) {
  // Products with H: (uᵀHu, uᵀHt, uᵀH1, 1ᵀHt) and 1ᵀH1, u = q − zero.
  vec4 part = vec4(0.0);
  float part_h1 = 0.0;
  for (uint j = j0 + lid; j < j1; j += WG) {
    const float u = float(grid_quantize(t[tbase + j], prm, FORMAT, BITS)) - prm.y;
    if (FULL_BLOCK == 0) {
      const float hjj = h[j * p.n + j], tj = t[tbase + j];
      part += vec4(u * hjj * u, u * hjj * tj, u * hjj, hjj * tj);
      part_h1 += hjj;
    } else {
      store_v(j, u);
    }
  }
  if (FULL_BLOCK != 0) {
    memoryBarrierBuffer();
    barrier();
    for (uint i = j0 + lid; i < j1; i += WG) {
      float hu = 0.0, ht = 0.0, h1 = 0.0;
      for (uint j = j0; j < j1; ++j) {
        const float hij = h[i * p.n + j];
        hu = fma(hij, load_v(j), hu);
        ht = fma(hij, t[tbase + j], ht);
        h1 += hij;
      }
      const float ui = load_v(i);
      part += vec4(ui * hu, ui * ht, ui * h1, ht);
      part_h1 += h1;
    }
  }
  const vec4 a = reduce(part);
  const float oh1 = reduce(vec4(part_h1, 0.0, 0.0, 0.0)).x;
  memoryBarrierBuffer();
  const float uhu = a.x, uht = a.y, uh1 = a.z, oht = a.w;
  return grid_refit_solve(uhu, uht, uh1, oht, oh1, prm, FORMAT, r);
}

void main() {
  const uint id = gl_WorkGroupID.x;
  if (id >= p.m * p.groups) return;  // whole workgroup: barriers stay uniform
  lid = gl_LocalInvocationID.x;
  row = id / p.groups;
  const uint grp = id % p.groups;
  j0 = grp * p.group;
  j1 = min(j0 + p.group, p.n);
  tbase = p.t_off + row * p.ldt;
  dbase = row * p.n;
  in_shared = j1 - j0 <= SHARED_G;  // uniform over the workgroup

  if (lid == 0) {  // column order matters for Q4_0/Q5_0's first extreme: one invocation folds it
    GridAcc a = grid_acc_first(t[tbase + j0]);
    for (uint j = j0 + 1; j < j1; ++j) grid_acc_add(a, t[tbase + j]);
    acc_s = a;
  }
  barrier();
  const GridAcc acc = acc_s;

  float best_loss = 0.0;
  vec4 best = vec4(0.0);
  bool first = true;
  const uint total = grid_candidate_count(FORMAT, p.candidates, p.expand, p.about_min);
  for (uint c = 0; c < total; ++c) {
    const vec4 prm = grid_candidate(acc, FORMAT, BITS, SYMMETRIC != 0, c, p.candidates, p.expand, p.step);
    const float loss = candidate_loss(prm);
    if (first || loss < best_loss) {
      best_loss = loss;
      best = prm;
      first = false;
    }
    vec4 r;
    if (p.refit != 0u && refit(prm, r)) {  // refit's result is uniform: every invocation reduced the same sums
      const float rl = candidate_loss(r);
      if (rl < best_loss) {
        best_loss = rl;
        best = r;
      }
    }
  }
  if (lid == 0) params[id] = best;
}
