#version 450
// regularize_gram (ALGORITHMS.md §2, §4.1): H̃[p][q] = H[o_p][o_q] for p ≠ q and H̃[p][p] = d_p,
// where o is the processing order (act-order or identity) and d_p = H_jj (dead: 1) + μ(δ + λ ŝ_j),
// j = o_p, is computed on the host in float64 from the n diagonal values (O(n) work).
// Indices are 32-bit: the wrapper limits n to n² < 2^32 elements.

layout(constant_id = 0) const uint WG = 16;  // workgroup is WG x WG invocations
layout(local_size_x_id = 0, local_size_y_id = 0) in;

layout(std430, binding = 0) readonly buffer HBuf { float h[]; };
layout(std430, binding = 1) readonly buffer OrderBuf { uint order[]; };
layout(std430, binding = 2) readonly buffer DiagBuf { float diag[]; };  // in processing order
layout(std430, binding = 3) writeonly buffer OutBuf { float outm[]; };

layout(push_constant) uniform Push {
  uint n;
} p;

void main() {
  const uint q = gl_GlobalInvocationID.x, r = gl_GlobalInvocationID.y;
  if (r >= p.n || q >= p.n) return;
  outm[r * p.n + q] = r == q ? diag[r] : h[order[r] * p.n + order[q]];
}
