#version 450
// triangular_inverse_diagonal (ALGORITHMS.md §4.3, blocked inverse of a lower-triangular L,
// stored transposed: Y = L⁻ᵀ, upper): workgroup b inverts the diagonal block L_bb (edge
// min(NB, n − b·NB)) by forward substitution, column c of X_bb = L_bb⁻¹ solving L_bb x = e_c,
// and stores it as row c of Y_bb. The blocks above are then formed by gemm
// (kernels/cholesky.cpp): Y[0:i, i] = −Y[0:i, 0:i] L[i, 0:i]ᵀ Y_ii, an NT product.

layout(constant_id = 0) const uint NB = 64;
layout(constant_id = 1) const uint WG = 64;
layout(local_size_x_id = 1) in;

layout(std430, binding = 0) readonly buffer LBuf { float l[]; };
layout(std430, binding = 1) buffer XBuf { float x[]; };

layout(push_constant) uniform Push {
  uint n;
} p;

shared float S[NB * NB];

void main() {
  const uint lid = gl_LocalInvocationID.x;
  const uint r0 = gl_WorkGroupID.x * NB;
  if (r0 >= p.n) return;
  const uint kb = min(NB, p.n - r0), n = p.n, base = r0 * n + r0;
  for (uint e = lid; e < kb * kb; e += WG) {
    const uint i = e / kb, j = e % kb;
    S[i * NB + j] = j <= i ? l[base + i * n + j] : 0.0;
  }
  barrier();
  for (uint c = lid; c < kb; c += WG) {
    const uint row = base + c * n;  // row c of Y_bb = column c of X_bb
    for (uint i = 0; i < c; ++i) x[row + i] = 0.0;
    for (uint i = c; i < kb; ++i) {
      float s = i == c ? 1.0 : 0.0;
      for (uint k = c; k < i; ++k) s -= S[i * NB + k] * x[row + k];
      x[row + i] = s / S[i * NB + i];
    }
  }
}
