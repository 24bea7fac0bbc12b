#version 450
// gptq_sweep_block: ALGORITHMS.md §4 GBS step 4, the in-block column sweep of one block of bl
// columns (processing positions i1 … i1+bl−1), every row independently (one invocation per row):
//   q_j = grid(w_j), e_j = (w_j − q_j)/U_jj, w_{j+1:block end} −= e_j U_{j, j+1:block end},
//   loss += (w_j − q_j)²/U_jj²,
// writing codes and dequantized values in ORIGINAL column order (perm[p] = original column of
// position p), the scaled errors E (m × bl) for the host's tail GEMM, and the running loss.
// Static groups: params per (row, original group) given. Dynamic groups (processing-order groups
// of g columns): params from the fully updated row at the group's first position; the host aligns
// blocks so that a group either lies inside one block or starts at a block start (whose tail
// values in W are then complete), which is the reference's definition.
// U's upper triangle of the diagonal block lives in shared memory, packed: bl(bl+1)/2 floats.
#include "grid.glsl"
#include "gbs_feedback.glsl"

layout(constant_id = 0) const uint WG = 64;     // rows per workgroup
layout(constant_id = 1) const uint BMAX = 128;  // block capacity (private row block, shared triangle)
layout(constant_id = 2) const uint FMT = 0;
layout(constant_id = 3) const uint BITS = 4;
layout(constant_id = 4) const uint SYM = 0;
layout(constant_id = 5) const uint DYNAMIC = 0;
layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer WBuf { float wmat[]; };   // m × n, processing order
layout(std430, binding = 1) readonly buffer UBuf { float u[]; };      // n × n, processing order
layout(std430, binding = 2) readonly buffer PermBuf { uint perm[]; }; // n
layout(std430, binding = 3) buffer PBuf { vec4 params[]; };           // m × ng
layout(std430, binding = 4) writeonly buffer CBuf { int codes[]; };   // m × n, original order
layout(std430, binding = 5) writeonly buffer DBuf { float deq[]; };   // m × n, original order
layout(std430, binding = 6) writeonly buffer EBuf { float e_out[]; }; // m × bl
layout(std430, binding = 7) buffer LBuf { float loss_buf[]; };        // m

layout(push_constant) uniform Push {
  uint m, n;
  uint i1, bl;  // block start and length (bl ≤ BMAX)
  uint g, ng;   // group size and groups per row
  uint first;   // 1 on the first block: the loss starts at 0
} p;

shared float ut[(BMAX * (BMAX + 1u)) / 2u];

uint tri(uint j, uint t) { return j * p.bl - (j * (j - 1u)) / 2u + (t - j); }

void main() {
  const uint lid = gl_LocalInvocationID.x;
  const uint row = gl_WorkGroupID.x * WG + lid;
  for (uint e = lid; e < p.bl * p.bl; e += WG) {
    const uint j = e / p.bl, t = e % p.bl;
    if (t >= j) ut[tri(j, t)] = u[(p.i1 + j) * p.n + p.i1 + t];
  }
  barrier();
  if (row >= p.m) return;

  const uint base = row * p.n;
  float w[BMAX];
  for (uint t = 0; t < p.bl; ++t) w[t] = wmat[base + p.i1 + t];
  float loss = p.first != 0u ? 0.0 : loss_buf[row];
  const uint i2 = p.i1 + p.bl;
  vec4 gp = vec4(0.0);
  if (DYNAMIC != 0u && p.i1 % p.g != 0u) gp = params[row * p.ng + p.i1 / p.g];  // group began earlier

  for (uint j = 0; j < p.bl; ++j) {
    const uint pos = p.i1 + j, col = perm[pos];
    if (DYNAMIC != 0u) {
      if (pos % p.g == 0u) {
        const uint end = min(pos + p.g, p.n);
        GridAcc acc = grid_acc_first(w[j]);
        for (uint t = pos + 1u; t < end; ++t) grid_acc_add(acc, t < i2 ? w[t - p.i1] : wmat[base + t]);
        gp = grid_params(acc, FMT, BITS, SYM != 0u, 1.0);
        params[row * p.ng + pos / p.g] = gp;
      }
    } else {
      gp = params[row * p.ng + col / p.g];
    }
    const int c = grid_quantize(w[j], gp, FMT, BITS);
    const float q = grid_dequantize(c, gp);
    const float d = ut[tri(j, j)];
    const float diff = w[j] - q;
    loss = gbs_add_loss(loss, diff, d);
    const float e = gbs_scaled_error(diff, d);
    e_out[row * p.bl + j] = e;
    for (uint t = j + 1u; t < p.bl; ++t) w[t] = gbs_feedback(w[t], e, ut[tri(j, t)]);
    codes[base + col] = c;
    deq[base + col] = q;
  }
  loss_buf[row] = loss;
}
