#version 450
// Gated FFN activation: out[i] = act(gate[i]) · up[i] (ALGORITHMS.md §6). ACT 0: SiLU x / (1 + exp(−x))
// (LLaMA, Qwen); ACT 1: GELU with the tanh approximation 0.5·x·(1 + tanh(√(2/π)·x·(1 + 0.044715·x²)))
// (Gemma's GeGLU, ggml_gelu).

layout(constant_id = 0) const uint WG = 64;
layout(constant_id = 1) const uint ACT = 0;
layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer GBuf { float gate[]; };
layout(std430, binding = 1) readonly buffer UBuf { float up[]; };
layout(std430, binding = 2) writeonly buffer OBuf { float o[]; };

layout(push_constant) uniform Push { uint count; } p;

void main() {
  const uint i = gl_GlobalInvocationID.x;
  if (i >= p.count) return;
  const float g = gate[i];
  if (ACT == 0) {
    // exp(-g) overflows to +inf for g < -88: g / inf = -0, the right limit.
    o[i] = g / (1.0 + exp(-g)) * up[i];
  } else {
    // 0.5·(1 + tanh(t)) = 1 / (1 + exp(−2t)): no cancellation where tanh(t) is near −1, and t = ±inf
    // (a huge |g|) gives g / 1 or g / inf = the right limits.
    const float t = 0.7978845608028654 * g * (1.0 + 0.044715 * g * g);
    o[i] = g / (1.0 + exp(-2.0 * t)) * up[i];
  }
}
