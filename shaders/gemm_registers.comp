#version 450
// gemm, CPU-device variant: C = alpha * A * B^T + beta * C, fp32, A m x k and B n x k row-major
// with k, lda, ldb and the A/B offsets multiples of 4 (the wrapper falls back to gemm.comp
// otherwise). For devices whose shared memory is ordinary cache (lavapipe): no shared memory,
// no barriers; each invocation keeps an MR x MC block of C in registers and reads A and B as
// vec4 along k, because llvmpipe executes every buffer load as a per-lane loop and a vec4 load
// costs little more than a scalar one. Loads bound it, so the block is wide (16 x 16 from the host)
// and its accumulators scalar (a dot per vec4, not vec4 partials: a quarter of the spilled state).
// Larger blocks run faster but LLVM compiles them slowly (5 s for 16 x 16, 113 s for 32 x 32).
// beta == 0 never reads C.

layout(constant_id = 0) const uint WG = 64;
layout(constant_id = 1) const uint MR = 8;
layout(constant_id = 2) const uint MC = 4;
layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer ABuf { vec4 a[]; };
layout(std430, binding = 1) readonly buffer BBuf { vec4 b[]; };
layout(std430, binding = 2) buffer CBuf { float c[]; };

layout(push_constant) uniform Push {
  uint m, n, k;
  uint lda, ldb, ldc;
  uint a_off, b_off, c_off;
  float alpha, beta;
} p;

void main() {
  // Blocks are numbered column-block fastest so neighbouring invocations share A rows in cache.
  const uint col_blocks = (p.n + MC - 1) / MC;
  const uint block = gl_WorkGroupID.x * WG + gl_LocalInvocationID.x;
  const uint row0 = (block / col_blocks) * MR;
  const uint col0 = (block % col_blocks) * MC;
  if (row0 >= p.m) return;
  uint arow[MR], bcol[MC];
  for (uint r = 0; r < MR; ++r) arow[r] = (p.a_off + min(row0 + r, p.m - 1) * p.lda) / 4;
  for (uint q = 0; q < MC; ++q) bcol[q] = (p.b_off + min(col0 + q, p.n - 1) * p.ldb) / 4;
  float acc[MR][MC];
  for (uint r = 0; r < MR; ++r)
    for (uint q = 0; q < MC; ++q) acc[r][q] = 0.0;
  const uint k4 = p.k / 4;
  for (uint kk = 0; kk < k4; ++kk) {
    vec4 bv[MC];
    for (uint q = 0; q < MC; ++q) bv[q] = b[bcol[q] + kk];
    for (uint r = 0; r < MR; ++r) {
      const vec4 av = a[arow[r] + kk];
      for (uint q = 0; q < MC; ++q) acc[r][q] += dot(av, bv[q]);
    }
  }
  for (uint r = 0; r < MR; ++r) {
    const uint row = row0 + r;
    if (row >= p.m) break;
    for (uint q = 0; q < MC; ++q) {
      const uint col = col0 + q;
      if (col >= p.n) break;
      const uint idx = p.c_off + row * p.ldc + col;
      float v = p.alpha * acc[r][q];
      if (p.beta != 0.0) v += p.beta * c[idx];
      c[idx] = v;
    }
  }
}
