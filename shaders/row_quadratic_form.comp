#version 450
// row_quadratic_form: r_i = Σ_j G[i][j] · E[i][j], one workgroup per row (ALGORITHMS.md §2/§6):
// with E = Q − T and G = E H̃ (a gemm), r_i = (t_i − q_i) H̃ (t_i − q_i)ᵀ, the per-row objective
// that the AWQ scale search (§4 GS) sums over rows and layers. Shared-memory tree reduction.

layout(constant_id = 0) const uint WG = 64;  // a power of two
layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer GBuf { float g[]; };
layout(std430, binding = 1) readonly buffer EBuf { float e[]; };
layout(std430, binding = 2) writeonly buffer RBuf { float r[]; };

layout(push_constant) uniform Push {
  uint m, n;
  uint ldg, lde;
  uint r_off;
} p;

shared float partial[WG];

void main() {
  const uint i = gl_WorkGroupID.x;
  const uint lid = gl_LocalInvocationID.x;
  float acc = 0.0;
  if (i < p.m)
    for (uint j = lid; j < p.n; j += WG) acc = fma(g[i * p.ldg + j], e[i * p.lde + j], acc);
  partial[lid] = acc;
  barrier();
  for (uint w = WG / 2; w > 0; w >>= 1) {
    if (lid < w) partial[lid] += partial[lid + w];
    barrier();
  }
  if (lid == 0 && i < p.m) r[p.r_off + i] = partial[0];
}
