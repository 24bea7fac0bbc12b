#version 450
// attention: out[t][h] = Σ_j softmax_j(q_t,h · k_j,g / sqrt(head_dim)) v_j,g over the keys
// j ∈ [begin_t, end_t) of token t (causal ranges built by the host), g = h / (heads / kv_heads)
// (grouped-query attention of the forward pass, ALGORITHMS.md §6). One workgroup per
// (token, head). Each lane runs its own online softmax over keys begin + lid, begin + lid + WG, ...
// (running max m, sum l = Σ e^(s_j - m), accumulator a = Σ e^(s_j - m) v_j, in vec4 registers),
// so every score is computed once; the lanes are then merged through shared memory with the
// global max M: out = Σ_i e^(m_i - M) a_i / Σ_i e^(m_i - M) l_i (max subtraction throughout).

layout(constant_id = 0) const uint WG = 64;       // power of two
layout(constant_id = 1) const uint HD4 = 2;       // ceil(head_dim / 4): vec4 registers per lane
layout(constant_id = 2) const bool VEC4 = false;  // head_dim and q/k/v offsets and strides are multiples of 4
layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer QBuf { float q[]; };
layout(std430, binding = 1) readonly buffer KBuf { float k[]; };
layout(std430, binding = 2) readonly buffer VBuf { float v[]; };
layout(std430, binding = 3) writeonly buffer OBuf { float o[]; };
layout(std430, binding = 4) readonly buffer Ranges { uvec2 ranges[]; };  // per token: [begin, end) key rows
// The same q, k, v buffers seen as vec4s: a quarter of the load instructions when VEC4.
layout(std430, binding = 5) readonly buffer Q4Buf { vec4 q4[]; };
layout(std430, binding = 6) readonly buffer K4Buf { vec4 k4[]; };
layout(std430, binding = 7) readonly buffer V4Buf { vec4 v4[]; };

layout(push_constant) uniform Push {
  uint tokens, heads, kv_heads, head_dim;
  uint q_off, q_stride;
  uint k_off, v_off, kv_stride;
  uint o_off, o_stride;
  uint kv_rows;  // ranges are clamped to it: never an out-of-bounds read
  float scale;
} p;

shared float red_m[WG];
shared float red_l[WG];
shared vec4 red_a[WG * HD4];

// Element base + 4i .. 4i+3 of a head (zeros past head_dim).
vec4 load_q(uint base, uint i) {
  if (VEC4) return q4[(base >> 2) + i];
  vec4 r = vec4(0.0);
  for (uint c = 0; c < 4; ++c) if (4 * i + c < p.head_dim) r[c] = q[base + 4 * i + c];
  return r;
}
vec4 load_k(uint base, uint i) {
  if (VEC4) return k4[(base >> 2) + i];
  vec4 r = vec4(0.0);
  for (uint c = 0; c < 4; ++c) if (4 * i + c < p.head_dim) r[c] = k[base + 4 * i + c];
  return r;
}
vec4 load_v(uint base, uint i) {
  if (VEC4) return v4[(base >> 2) + i];
  vec4 r = vec4(0.0);
  for (uint c = 0; c < 4; ++c) if (4 * i + c < p.head_dim) r[c] = v[base + 4 * i + c];
  return r;
}

void main() {
  const uint wg = gl_WorkGroupID.x;
  if (wg >= p.tokens * p.heads) return;  // whole workgroup leaves together
  const uint lid = gl_LocalInvocationID.x;
  const uint t = wg / p.heads, h = wg % p.heads;
  const uint g = h / (p.heads / p.kv_heads);
  const uint end = min(ranges[t].y, p.kv_rows), begin = min(ranges[t].x, end);
  const float NEG_INF = uintBitsToFloat(0xff800000u);

  vec4 qr[HD4];
  vec4 acc[HD4];
  const uint qb = p.q_off + t * p.q_stride + h * p.head_dim;
  for (uint i = 0; i < HD4; ++i) {
    qr[i] = load_q(qb, i);
    acc[i] = vec4(0.0);
  }
  float m = NEG_INF, l = 0.0;
  for (uint j = begin + lid; j < end; j += WG) {
    const uint kb = p.k_off + j * p.kv_stride + g * p.head_dim;
    const uint vb = p.v_off + j * p.kv_stride + g * p.head_dim;
    float s = 0.0;
    for (uint i = 0; i < HD4; ++i) s += dot(qr[i], load_k(kb, i));
    s *= p.scale;
    if (s > m) {  // new running max: rescale what was accumulated (exp(-inf) = 0 the first time)
      const float c = exp(m - s);
      l = l * c + 1.0;
      for (uint i = 0; i < HD4; ++i) acc[i] = acc[i] * c + load_v(vb, i);
      m = s;
    } else {
      const float e = exp(s - m);
      l += e;
      for (uint i = 0; i < HD4; ++i) acc[i] += e * load_v(vb, i);
    }
  }

  // Global max over lanes (tree), then every lane's share rescaled to it.
  red_m[lid] = m;
  barrier();
  for (uint hh = WG / 2; hh > 0; hh >>= 1) {
    if (lid < hh) red_m[lid] = max(red_m[lid], red_m[lid + hh]);
    barrier();
  }
  const float mx = red_m[0];
  const float f = m == NEG_INF ? 0.0 : exp(m - mx);  // lanes that saw no key contribute nothing
  red_l[lid] = l * f;
  for (uint i = 0; i < HD4; ++i) red_a[lid * HD4 + i] = acc[i] * f;
  barrier();
  for (uint hh = WG / 2; hh > 0; hh >>= 1) {
    if (lid < hh) red_l[lid] += red_l[lid + hh];
    barrier();
  }
  const float total = red_l[0];
  const float inv = total > 0.0 ? 1.0 / total : 0.0;  // an empty range gives zeros
  const uint ob = p.o_off + t * p.o_stride + h * p.head_dim;
  for (uint i = lid; i < HD4; i += WG) {
    vec4 sum = vec4(0.0);
    for (uint r = 0; r < WG; ++r) sum += red_a[r * HD4 + i];
    for (uint c = 0; c < 4; ++c)
      if (4 * i + c < p.head_dim) o[ob + 4 * i + c] = sum[c] * inv;
  }
}
