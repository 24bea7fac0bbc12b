#version 450
// cholesky_zero_upper (ALGORITHMS.md §4.3): the blocked Cholesky only ever writes the lower
// triangle, and its trailing gemm leaves scratch values above the diagonal; L is returned with
// A[i][j] = 0 for j > i, as reference/cholesky.cpp cholesky_lower.

layout(constant_id = 0) const uint WG = 16;
layout(local_size_x_id = 0, local_size_y_id = 0) in;

layout(std430, binding = 0) writeonly buffer ABuf { float a[]; };

layout(push_constant) uniform Push {
  uint n;
} p;

void main() {
  const uint j = gl_GlobalInvocationID.x, i = gl_GlobalInvocationID.y;
  if (i >= p.n || j >= p.n || j <= i) return;
  a[i * p.n + j] = 0.0;
}
