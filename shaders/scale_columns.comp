#version 450
// scale_columns: A[i][j] = A[i][j] · s_j (DIVIDE = 0) or A[i][j] / s_j (DIVIDE = 1), then minus B[i][j]
// when SUBTRACT = 1; in place on an m × n row-major block (row stride lda).
// ALGORITHMS.md §4 GS: W diag(s^a) and Ŵ diag(s^a)⁻¹ − T of the AWQ scale search; §4 GBS step 1:
// a 0/1 mask zeroes dead columns of T (a zero multiplier writes an exact 0).

layout(constant_id = 0) const uint WG = 256;
layout(constant_id = 1) const uint DIVIDE = 0;
layout(constant_id = 2) const uint SUBTRACT = 0;
layout(local_size_x_id = 0) in;

layout(std430, binding = 0) buffer ABuf { float a[]; };
layout(std430, binding = 1) readonly buffer SBuf { float s[]; };
layout(std430, binding = 2) readonly buffer BBuf { float b[]; };

layout(push_constant) uniform Push {
  uint m, n;
  uint lda, ldb;
  uint a_off, b_off;
} p;

void main() {
  const uint j = gl_WorkGroupID.x * WG + gl_LocalInvocationID.x;
  const uint i = gl_WorkGroupID.y;
  if (j >= p.n || i >= p.m) return;
  const uint idx = p.a_off + i * p.lda + j;
  const float sj = s[j];
  float v;
  if (DIVIDE != 0) v = a[idx] / sj;
  else v = sj == 0.0 ? 0.0 : a[idx] * sj;
  if (SUBTRACT != 0) v -= b[p.b_off + i * p.ldb + j];
  a[idx] = v;
}
