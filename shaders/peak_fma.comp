#version 450
// peak_fma: the device's multiply-add throughput, the compute roof of bench/'s roofline. Every invocation
// runs `iterations` steps of CHAINS independent vec4 multiply-adds x = x·a + b (|a| < 1 keeps the values
// bounded) from a start that depends on its index, and writes the sum of its chains' components, so the
// work cannot be skipped and the selftest can check it against float64.

layout(constant_id = 0) const uint WG = 64;
layout(local_size_x_id = 0) in;

layout(std430, binding = 0) writeonly buffer OutBuf { float result[]; };

layout(push_constant) uniform Push {
  uint invocations, iterations;
  float a, b;
} p;

const uint CHAINS = 2;  // 8 independent multiply-adds per step: enough to hide latency, few registers

void main() {
  const uint id = gl_WorkGroupID.x * WG + gl_LocalInvocationID.x;
  if (id >= p.invocations) return;
  vec4 x[CHAINS];
  for (uint c = 0; c < CHAINS; ++c)
    x[c] = vec4(float(id % 97u) * 0.01, 0.2, 0.3, 0.4) + vec4(float(c) * 0.1);
  const vec4 a = vec4(p.a), b = vec4(p.b);
  for (uint i = 0; i < p.iterations; ++i)
    for (uint c = 0; c < CHAINS; ++c) x[c] = fma(x[c], a, b);
  vec4 s = vec4(0.0);
  for (uint c = 0; c < CHAINS; ++c) s += x[c];
  result[id] = (s.x + s.y) + (s.z + s.w);
}
