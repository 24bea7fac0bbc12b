#version 450
// gram_finalize: H = scale * (S_hi - S_lo), scale = 2/N (ALGORITHMS.md §1), into an fp32 matrix
// for the device-side solvers. S_lo holds the Kahan compensation of S_hi.

layout(constant_id = 0) const uint WG = 256;
layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer SHi { float s_hi[]; };
layout(std430, binding = 1) readonly buffer SLo { float s_lo[]; };
layout(std430, binding = 2) writeonly buffer HBuf { float h[]; };

layout(push_constant) uniform Push {
  uint count;    // n * n
  float scale;
} p;

void main() {
  const uint i = gl_GlobalInvocationID.x;
  if (i >= p.count) return;
  h[i] = p.scale * (s_hi[i] - s_lo[i]);
}
