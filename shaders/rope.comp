#version 450
// rope: rotary position embedding in place, (x0, x1) -> (x0 cos θ - x1 sin θ, x0 sin θ + x1 cos θ)
// with θ_i = (pos / scale) · base^(-2i/rot_dim) (ALGORITHMS.md §6 forward pass). Pairs are
// (2i, 2i+1) for the normal layout, (i, i + rot_dim/2) for NeoX; dims >= rot_dim are left as they
// are. cos/sin come from a table the host computes in float64 (GPU sin/cos lose accuracy at
// large angles). One invocation per (token, head, pair).

layout(constant_id = 0) const uint WG = 64;
layout(local_size_x_id = 0) in;

layout(std430, binding = 0) buffer XBuf { float x[]; };
layout(std430, binding = 1) readonly buffer Table { vec2 cs[]; };  // [position][rot_dim/2] (cos, sin)
layout(std430, binding = 2) readonly buffer Pos { int positions[]; };

layout(push_constant) uniform Push {
  uint tokens, heads, head_dim, rot_dim;
  uint x_off, x_stride;
  uint neox;
  uint table_positions;  // rows of the table
} p;

void main() {
  const uint half_rot = p.rot_dim / 2;
  const uint gid = gl_GlobalInvocationID.x;
  if (gid >= p.tokens * p.heads * half_rot) return;
  const uint i = gid % half_rot;
  const uint th = gid / half_rot;
  const uint h = th % p.heads;
  const uint t = th / p.heads;
  const uint base = p.x_off + t * p.x_stride + h * p.head_dim;
  const uint i0 = p.neox != 0 ? base + i : base + 2 * i;
  const uint i1 = p.neox != 0 ? base + i + half_rot : base + 2 * i + 1;
  const int pos = positions[t];
  if (pos < 0 || uint(pos) >= p.table_positions) {  // the host validates; never read out of bounds
    x[i0] = uintBitsToFloat(0x7fc00000u);
    x[i1] = uintBitsToFloat(0x7fc00000u);
    return;
  }
  const vec2 c = cs[uint(pos) * half_rot + i];
  const float x0 = x[i0], x1 = x[i1];
  x[i0] = x0 * c.x - x1 * c.y;
  x[i1] = x0 * c.y + x1 * c.x;
}
