#version 450
// add: o[o_off + i] = a[a_off + i] + b[i mod period], i < count — the residual connections of the forward
// pass (period = count, ALGORITHMS.md §6) and a bias added to every row of a tokens × cols activation
// (period = cols: Qwen2's q/k/v biases). `o` may be the same buffer as `a` (each invocation reads and
// writes only its own element).

layout(constant_id = 0) const uint WG = 64;
layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer ABuf { float a[]; };
layout(std430, binding = 1) readonly buffer BBuf { float b[]; };
layout(std430, binding = 2) writeonly buffer OBuf { float o[]; };

layout(push_constant) uniform Push { uint count, period, a_off, o_off; } p;

void main() {
  const uint i = gl_GlobalInvocationID.x;
  if (i >= p.count) return;
  o[p.o_off + i] = a[p.a_off + i] + b[i % p.period];
}
