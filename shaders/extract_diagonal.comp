#version 450
// extract_diagonal: d_j = A_jj of an n x n row-major matrix, so the host can make the O(n)
// decisions of ALGORITHMS.md §2/§4.1 (dead columns, μ, ŝ, act-order) and the Cholesky pivot
// threshold (§4.3) can use the original diagonal.

layout(constant_id = 0) const uint WG = 64;
layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer ABuf { float a[]; };
layout(std430, binding = 1) writeonly buffer DBuf { float d[]; };

layout(push_constant) uniform Push {
  uint n;
} p;

void main() {
  const uint j = gl_GlobalInvocationID.x;
  if (j >= p.n) return;
  d[j] = a[j * p.n + j];
}
