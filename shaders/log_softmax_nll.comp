#version 450
#include "kahan.glsl"
// log_softmax_nll: nll[t] = logsumexp_v(logits[t][v]) - logits[t][target[t]], computed as
// max + log Σ exp(x - max) (numerically stable), the per-token loss of perplexity (ALGORITHMS.md §6).
// One workgroup per token row; lanes stride over the vocabulary (any size, e.g. 256k), pass 1 the
// max, pass 2 the Kahan-compensated sum, each reduced in shared memory.

layout(constant_id = 0) const uint WG = 64;  // power of two
layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer Logits { float x[]; };
layout(std430, binding = 1) readonly buffer Targets { uint target[]; };
layout(std430, binding = 2) writeonly buffer Nll { float nll[]; };

layout(push_constant) uniform Push {
  uint tokens, vocab;
  uint x_off, x_stride;
  uint out_off;  // row t reads target[out_off + t] and writes nll[out_off + t]
} p;

shared float red[WG];

void main() {
  const uint t = gl_WorkGroupID.x;
  if (t >= p.tokens) return;  // whole workgroup leaves together
  const uint lid = gl_LocalInvocationID.x;
  const uint xb = p.x_off + t * p.x_stride;
  float m = uintBitsToFloat(0xff800000u);
  for (uint v = lid; v < p.vocab; v += WG) m = max(m, x[xb + v]);
  red[lid] = m;
  barrier();
  for (uint h = WG / 2; h > 0; h >>= 1) {
    if (lid < h) red[lid] = max(red[lid], red[lid + h]);
    barrier();
  }
  const float mx = red[0];
  barrier();  // everyone has read red[0] before it is reused
  precise float sum = 0.0, comp = 0.0;
  for (uint v = lid; v < p.vocab; v += WG) kahan_add(sum, comp, exp(x[xb + v] - mx));
  red[lid] = sum - comp;
  barrier();
  for (uint h = WG / 2; h > 0; h >>= 1) {
    if (lid < h) red[lid] += red[lid + h];
    barrier();
  }
  if (lid == 0) {
    const uint tg = target[p.out_off + t];
    nll[p.out_off + t] = tg < p.vocab ? mx + log(red[0]) - x[xb + tg] : uintBitsToFloat(0x7fc00000u);
  }
}
