#version 450
// swiglu: out[i] = silu(gate[i]) · up[i], silu(x) = x / (1 + exp(-x)) (LLaMA FFN, ALGORITHMS.md §6).

layout(constant_id = 0) const uint WG = 64;
layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer GBuf { float gate[]; };
layout(std430, binding = 1) readonly buffer UBuf { float up[]; };
layout(std430, binding = 2) writeonly buffer OBuf { float o[]; };

layout(push_constant) uniform Push { uint count; } p;

void main() {
  const uint i = gl_GlobalInvocationID.x;
  if (i >= p.count) return;
  const float g = gate[i];
  // exp(-g) overflows to +inf for g < -88: g / inf = -0, the right limit.
  o[i] = g / (1.0 + exp(-g)) * up[i];
}
