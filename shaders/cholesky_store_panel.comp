#version 450
// cholesky_store_panel (ALGORITHMS.md §4.3, blocked right-looking Cholesky): copies the panel
// L21 = A21 L11⁻ᵀ, which gemm computed into a packed rows x kb scratch P (it cannot write in
// place), back into the matrix below the diagonal block: A[k0+kb+i][k0+j] = P[i][j].

layout(constant_id = 0) const uint WG = 256;
layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer PBuf { float panel[]; };
layout(std430, binding = 1) writeonly buffer ABuf { float a[]; };

layout(push_constant) uniform Push {
  uint n, k0, kb, rows;
} p;

void main() {
  const uint e = gl_GlobalInvocationID.x;
  if (e >= p.rows * p.kb) return;
  const uint i = e / p.kb, j = e % p.kb;
  a[(p.k0 + p.kb + i) * p.n + p.k0 + j] = panel[e];
}
