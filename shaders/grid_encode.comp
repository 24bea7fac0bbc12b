#version 450
// grid_encode: ALGORITHMS.md §3 (RTN of §4): per (row, group) min-max params of W (optionally with
// a clip-search shrink factor), then codes q = grid(w) and dequantized ŵ = scale·(q − zero) + min.
// Codes and dequantized values are written in original column order.
// One invocation per (row, group), columns in order (the GridAcc fold is order-sensitive for
// Q4_0/Q5_0's first-of-largest-magnitude v). Conventions in common/grid.glsl.
// With `permuted`, W is stored in a processing (act-order) column order and position_of[j] gives
// where original column j sits, so groups stay contiguous in ORIGINAL columns (static groups).
#include "grid.glsl"

layout(constant_id = 0) const uint WG = 64;
layout(constant_id = 1) const uint FMT = 0;   // GRID_* format
layout(constant_id = 2) const uint BITS = 4;  // INT bits
layout(constant_id = 3) const uint SYM = 0;   // INT symmetric
layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer WBuf { float w[]; };       // m × n row-major
layout(std430, binding = 1) buffer PBuf { vec4 params[]; };            // m × ng
layout(std430, binding = 2) writeonly buffer CBuf { int codes[]; };    // m × n
layout(std430, binding = 3) writeonly buffer DBuf { float deq[]; };    // m × n
layout(std430, binding = 4) readonly buffer MapBuf { uint position_of[]; };  // n (only when permuted)

layout(push_constant) uniform Push {
  uint m, n;
  uint g;       // columns per group (the last group of a row may be shorter)
  uint ng;      // groups per row
  uint mode;    // 0: params + codes, 1: codes against given params, 2: params only
  float shrink; // clip-search range factor (1 = min-max)
  uint permuted; // 1: W columns are in processing order, read through position_of
} p;

float load_w(uint base, uint j) { return w[base + (p.permuted != 0u ? position_of[j] : j)]; }

void main() {
  const uint id = gl_GlobalInvocationID.x;
  if (id >= p.m * p.ng) return;
  const uint row = id / p.ng, grp = id % p.ng;
  const uint j0 = grp * p.g, j1 = min(j0 + p.g, p.n);
  const uint base = row * p.n;
  vec4 prm;
  if (p.mode == 1u) {
    prm = params[id];
  } else {
    GridAcc acc = grid_acc_first(load_w(base, j0));
    for (uint j = j0 + 1u; j < j1; ++j) grid_acc_add(acc, load_w(base, j));
    prm = grid_params(acc, FMT, BITS, SYM != 0u, p.shrink);
    params[id] = prm;
  }
  if (p.mode == 2u) return;
  for (uint j = j0; j < j1; ++j) {
    const int c = grid_quantize(load_w(base, j), prm, FMT, BITS);
    codes[base + j] = c;
    deq[base + j] = grid_dequantize(c, prm);
  }
}
