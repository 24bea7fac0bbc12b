#version 450
// moe_route: a mixture-of-experts router's choice for each token (ALGORITHMS.md §6 forward pass, as
// llama.cpp's build_moe_ffn with softmax gating): p = softmax(logits of the row) over all experts, the
// `used` most probable experts (ties: the lower index), their weights p_e / max(Σ selected p, 2^-14) when
// `norm` is set, times `scale` when it is neither 0 nor 1. route[t][e] is that weight for a selected
// expert and exactly 0 for every other, so a dense pass over the experts adds only the chosen ones.
// One invocation per token: the expert count is small (at most 1024) and the work per row is E·used.

layout(constant_id = 0) const uint WG = 64;
layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer LBuf { float logits[]; };  // tokens × experts
layout(std430, binding = 1) buffer RBuf { float route[]; };            // tokens × experts

layout(push_constant) uniform Push { uint tokens, experts, used, norm; float scale; } p;

const uint MAX_WORDS = 32u;  // 1024 experts

void main() {
  const uint t = gl_GlobalInvocationID.x;
  if (t >= p.tokens) return;
  const uint base = t * p.experts;
  float mx = logits[base];
  for (uint e = 1u; e < p.experts; ++e) mx = max(mx, logits[base + e]);
  float sum = 0.0;
  for (uint e = 0u; e < p.experts; ++e) {
    const float v = exp(logits[base + e] - mx);
    route[base + e] = v;
    sum += v;
  }
  const float inv = 1.0 / sum;
  uint chosen[MAX_WORDS];
  for (uint w = 0u; w < MAX_WORDS; ++w) chosen[w] = 0u;
  float picked = 0.0;
  for (uint k = 0u; k < p.used; ++k) {
    uint best = 0xffffffffu;
    float best_p = -1.0;
    for (uint e = 0u; e < p.experts; ++e) {
      if ((chosen[e >> 5] & (1u << (e & 31u))) != 0u) continue;
      const float pe = route[base + e] * inv;
      if (pe > best_p) { best_p = pe; best = e; }
    }
    chosen[best >> 5] |= 1u << (best & 31u);
    picked += best_p;
  }
  float mul = p.norm != 0u ? 1.0 / max(picked, 6.103515625e-5) : 1.0;
  if (p.scale != 0.0 && p.scale != 1.0) mul *= p.scale;
  for (uint e = 0u; e < p.experts; ++e) {
    const bool on = (chosen[e >> 5] & (1u << (e & 31u))) != 0u;
    route[base + e] = on ? route[base + e] * inv * mul : 0.0;
  }
}
