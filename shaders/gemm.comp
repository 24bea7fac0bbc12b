#version 450
// gemm: C = alpha * op(A) * op(B)^T + beta * C, fp32, tiled in shared memory (DESIGN.md kernels).
// A is m x k row-major (or k x m when A_KMAJOR), B is n x k row-major (or k x n when B_KMAJOR).
// beta == 0 never reads C, so a poisoned C is fully overwritten.
// Each invocation owns a MICRO x MICRO block, strided by WG so shared-memory reads do not conflict.

layout(constant_id = 0) const uint WG = 16;        // workgroup is WG x WG invocations
layout(constant_id = 1) const uint TK = 16;        // k-slice held in shared memory
layout(constant_id = 2) const uint A_KMAJOR = 0;
layout(constant_id = 3) const uint B_KMAJOR = 0;
const uint MICRO = 4;
layout(local_size_x_id = 0, local_size_y_id = 0) in;

layout(std430, binding = 0) readonly buffer ABuf { float a[]; };
layout(std430, binding = 1) readonly buffer BBuf { float b[]; };
layout(std430, binding = 2) buffer CBuf { float c[]; };

layout(push_constant) uniform Push {
  uint m, n, k;
  uint lda, ldb, ldc;          // row strides in elements
  uint a_off, b_off, c_off;    // element offsets of the operands
  float alpha, beta;
} p;

shared float As[TK][WG * MICRO];
shared float Bs[TK][WG * MICRO];

float load_a(uint row, uint kk) {
  if (row >= p.m || kk >= p.k) return 0.0;
  return A_KMAJOR != 0 ? a[p.a_off + kk * p.lda + row] : a[p.a_off + row * p.lda + kk];
}
float load_b(uint col, uint kk) {
  if (col >= p.n || kk >= p.k) return 0.0;
  return B_KMAJOR != 0 ? b[p.b_off + kk * p.ldb + col] : b[p.b_off + col * p.ldb + kk];
}

void main() {
  const uint TILE = WG * MICRO;
  const uint tx = gl_LocalInvocationID.x, ty = gl_LocalInvocationID.y;
  const uint lid = ty * WG + tx;
  const uint row0 = gl_WorkGroupID.y * TILE, col0 = gl_WorkGroupID.x * TILE;
  float acc[MICRO][MICRO];
  for (uint r = 0; r < MICRO; ++r)
    for (uint q = 0; q < MICRO; ++q) acc[r][q] = 0.0;

  for (uint k0 = 0; k0 < p.k; k0 += TK) {
    // Cooperative load of a TILE x TK slice of each operand, stored k-major.
    for (uint e = lid; e < TILE * TK; e += WG * WG) {
      uint kk, rr;
      if (A_KMAJOR != 0) { kk = e / TILE; rr = e % TILE; } else { rr = e / TK; kk = e % TK; }
      As[kk][rr] = load_a(row0 + rr, k0 + kk);
      if (B_KMAJOR != 0) { kk = e / TILE; rr = e % TILE; } else { rr = e / TK; kk = e % TK; }
      Bs[kk][rr] = load_b(col0 + rr, k0 + kk);
    }
    barrier();
    for (uint kk = 0; kk < TK; ++kk) {
      float av[MICRO], bv[MICRO];
      for (uint r = 0; r < MICRO; ++r) av[r] = As[kk][ty + r * WG];
      for (uint q = 0; q < MICRO; ++q) bv[q] = Bs[kk][tx + q * WG];
      for (uint r = 0; r < MICRO; ++r)
        for (uint q = 0; q < MICRO; ++q) acc[r][q] = fma(av[r], bv[q], acc[r][q]);
    }
    barrier();
  }

  for (uint r = 0; r < MICRO; ++r) {
    const uint row = row0 + ty + r * WG;
    if (row >= p.m) continue;
    for (uint q = 0; q < MICRO; ++q) {
      const uint col = col0 + tx + q * WG;
      if (col >= p.n) continue;
      const uint idx = p.c_off + row * p.ldc + col;
      float v = p.alpha * acc[r][q];
      if (p.beta != 0.0) v += p.beta * c[idx];
      c[idx] = v;
    }
  }
}
