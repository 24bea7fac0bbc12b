#version 450
// add: out[i] = a[i] + b[i] — the residual connections of the forward pass (ALGORITHMS.md §6).
// `out` may be the same buffer as `a` (each invocation reads and writes only its own element).

layout(constant_id = 0) const uint WG = 64;
layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer ABuf { float a[]; };
layout(std430, binding = 1) readonly buffer BBuf { float b[]; };
layout(std430, binding = 2) writeonly buffer OBuf { float o[]; };

layout(push_constant) uniform Push { uint count; } p;

void main() {
  const uint i = gl_GlobalInvocationID.x;
  if (i >= p.count) return;
  o[i] = a[i] + b[i];
}
