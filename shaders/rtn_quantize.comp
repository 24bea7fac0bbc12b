#version 450
// rtn_quantize: Q = grid(T) (ALGORITHMS.md §4 RTN, grids §3), one invocation per (row, group):
// min-max params from the group's values in column order (GIVEN_PARAMS = 0), or the params given
// (e.g. by clip_search.comp, GIVEN_PARAMS = 1); then codes and dequantized values ŵ = scale·(q − zero) + min.
// Groups are contiguous in column order; the last group of a row may be partial.

#include "grid.glsl"

layout(constant_id = 0) const uint WG = 64;
layout(constant_id = 1) const uint FORMAT = 0;      // GRID_* (grid.glsl)
layout(constant_id = 2) const uint BITS = 4;        // INT only
layout(constant_id = 3) const uint SYMMETRIC = 0;   // INT only
layout(constant_id = 4) const uint GIVEN_PARAMS = 0;
layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer TBuf { float t[]; };
layout(std430, binding = 1) buffer PBuf { vec4 params[]; };       // rows × groups; read when GIVEN_PARAMS
layout(std430, binding = 2) writeonly buffer CBuf { int codes[]; };
layout(std430, binding = 3) writeonly buffer QBuf { float q[]; };

layout(push_constant) uniform Push {
  uint m, n;
  uint group;    // columns per group
  uint groups;   // groups per row
  uint ldt;      // row stride of T (codes and Q are packed, n)
  uint t_off;
} p;

void main() {
  const uint id = gl_WorkGroupID.x * WG + gl_LocalInvocationID.x;
  if (id >= p.m * p.groups) return;
  const uint row = id / p.groups, grp = id % p.groups;
  const uint j0 = grp * p.group, j1 = min(j0 + p.group, p.n);
  const uint tbase = p.t_off + row * p.ldt;
  vec4 prm;
  if (GIVEN_PARAMS != 0) {
    prm = params[id];
  } else {
    GridAcc acc = grid_acc_first(t[tbase + j0]);
    for (uint j = j0 + 1; j < j1; ++j) grid_acc_add(acc, t[tbase + j]);
    prm = grid_params(acc, FORMAT, BITS, SYMMETRIC != 0, 1.0);
    params[id] = prm;
  }
  for (uint j = j0; j < j1; ++j) {
    const int c = grid_quantize(t[tbase + j], prm, FORMAT, BITS);
    codes[row * p.n + j] = c;
    q[row * p.n + j] = grid_dequantize(c, prm);
  }
}
