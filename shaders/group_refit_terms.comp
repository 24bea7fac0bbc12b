#version 450
// group_refit_terms: one group column b of the group refits' normal equations (ALGORITHMS.md §3,
// ref::row_refit_terms). The rows × n² part is a gemm done before this: Z_rj = Σ_{l∈b} u_rl H̃_jl (U's
// columns of group b times H̃'s), with U's row `ones_row` all ones so that Z there is S_j = Σ_{l∈b} H̃_jl.
// This reduces Z over each group a: per row r,
//   ss[a][b] = Σ_{j∈a} u_rj Z_rj,   ms[a][b] = Σ_{j∈a} Z_rj,   sm[a][b] = Σ_{j∈a} u_rj S_j
// (the ones row's ss is the row-independent Σ_{j∈a,l∈b} H̃_jl). One invocation per (row, a).

layout(constant_id = 0) const uint WG = 64;
layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer ZBuf { float z[]; };  // rows × n, stride n
layout(std430, binding = 1) readonly buffer UBuf { float u[]; };  // rows × n, stride n
layout(std430, binding = 2) writeonly buffer SsBuf { float ss[]; };  // rows × groups × groups
layout(std430, binding = 3) writeonly buffer SmBuf { float sm[]; };
layout(std430, binding = 4) writeonly buffer MsBuf { float ms[]; };

layout(push_constant) uniform Push {
  uint rows, n;
  uint group, groups;  // columns per group (the last group may be partial), groups per row
  uint b;              // the group column Z was computed for
  uint ones_row;       // U's all-ones row: its Z is S
  uint with_min;       // write sm and ms too
} p;

void main() {
  const uint id = gl_GlobalInvocationID.x;
  if (id >= p.rows * p.groups) return;
  const uint r = id / p.groups, a = id % p.groups;
  const uint j0 = a * p.group, j1 = min(p.n, j0 + p.group);
  const uint zr = r * p.n, sr = p.ones_row * p.n;
  float s_ss = 0.0, s_sm = 0.0, s_ms = 0.0;
  for (uint j = j0; j < j1; ++j) {
    const float uj = u[zr + j], zj = z[zr + j];
    s_ss = fma(uj, zj, s_ss);
    s_ms += zj;
    s_sm = fma(uj, z[sr + j], s_sm);
  }
  const uint o = (r * p.groups + a) * p.groups + p.b;
  ss[o] = s_ss;
  if (p.with_min != 0) {
    sm[o] = s_sm;
    ms[o] = s_ms;
  }
}
