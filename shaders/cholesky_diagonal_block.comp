#version 450
// cholesky_diagonal_block (ALGORITHMS.md §4.3, blocked right-looking Cholesky A = L Lᵀ): one
// workgroup factors the kb x kb diagonal block at (k0, k0) in shared memory (unblocked
// right-looking), writes L11 into the lower triangle of the block, and writes L11⁻¹ (NB x NB,
// zero above the diagonal) for the panel solve L21 = A21 L11⁻ᵀ done by gemm.
// A pivot fails when non-finite or ≤ max(0, 4·n·ε·|a_jj|) with a_jj the ORIGINAL diagonal and
// ε the fp32 epsilon (reference/cholesky.cpp uses the same rule with its float64 ε); the first
// failure is written to `status` and every later block returns at once.

layout(constant_id = 0) const uint NB = 64;   // largest block edge
layout(constant_id = 1) const uint WG = 256;  // invocations
layout(local_size_x_id = 1) in;

layout(std430, binding = 0) buffer ABuf { float a[]; };
layout(std430, binding = 1) readonly buffer DiagBuf { float diag0[]; };
layout(std430, binding = 2) buffer InvBuf { float binv[]; };
// status[0] = failed, [1] = column, [2] = pivot bits (see kernels/cholesky.cpp).
layout(std430, binding = 3) buffer StatusBuf { uint status[]; };

layout(push_constant) uniform Push {
  uint n, k0, kb;
} p;

shared float S[NB * NB];
shared uint failed;

const float EPS = 1.1920929e-7;

bool is_finite(float v) { return (floatBitsToUint(v) & 0x7f800000u) != 0x7f800000u; }

void main() {
  const uint lid = gl_LocalInvocationID.x;
  if (status[0] != 0u) return;  // an earlier block failed; nobody writes status before the barriers below
  const uint kb = p.kb, n = p.n, base = p.k0 * n + p.k0;
  for (uint e = lid; e < kb * kb; e += WG) {
    const uint i = e / kb, j = e % kb;
    S[i * NB + j] = j <= i ? a[base + i * n + j] : 0.0;
  }
  barrier();
  for (uint j = 0; j < kb; ++j) {
    if (lid == 0) {
      const float d = S[j * NB + j];
      const float thr = 4.0 * float(n) * EPS * abs(diag0[p.k0 + j]);
      if (!is_finite(d) || !(d > thr) || !(d > 0.0)) {
        failed = 1u;
        status[1] = p.k0 + j;
        status[2] = floatBitsToUint(d);
        status[0] = 1u;
      } else {
        failed = 0u;
        S[j * NB + j] = sqrt(d);
      }
    }
    barrier();
    if (failed != 0u) return;  // shared value after a barrier: uniform
    const float djj = S[j * NB + j];
    for (uint i = j + 1 + lid; i < kb; i += WG) S[i * NB + j] /= djj;
    barrier();
    const uint r = kb - j - 1;  // rank-1 update of the trailing r x r lower triangle
    for (uint e = lid; e < r * r; e += WG) {
      const uint ii = j + 1 + e / r, kk = j + 1 + e % r;
      if (kk <= ii) S[ii * NB + kk] -= S[ii * NB + j] * S[kk * NB + j];
    }
    barrier();
  }
  for (uint e = lid; e < kb * kb; e += WG) {
    const uint i = e / kb, j = e % kb;
    if (j <= i) a[base + i * n + j] = S[i * NB + j];
  }
  // Column c of L11⁻¹ by forward substitution; each invocation reads back only its own writes.
  for (uint c = lid; c < NB; c += WG) {
    for (uint i = 0; i < min(c, kb); ++i) binv[i * NB + c] = 0.0;
    if (c >= kb) continue;
    for (uint i = c; i < kb; ++i) {
      float s = i == c ? 1.0 : 0.0;
      for (uint k = c; k < i; ++k) s -= S[i * NB + k] * binv[k * NB + c];
      binv[i * NB + c] = s / S[i * NB + i];
    }
  }
}
