#version 450
// attention, R rows per invocation: the same result as attention.comp (see there) for devices where
// a workgroup per row costs more than the row itself — CPU devices, whose barriers and shared-memory
// merges are slow, and small heads. An invocation holds R consecutive tokens of one head and runs
// their online softmaxes (running max m, sum l = Σ e^(s_j - m), accumulator a = Σ e^(s_j - m) v_j)
// side by side over the union of their key ranges, so each key and value row is loaded once for R
// queries (on llvmpipe a load costs far more than the arithmetic); no shared memory, no barrier.

layout(constant_id = 0) const uint WG = 64;
layout(constant_id = 1) const uint HD4 = 2;       // ceil(head_dim / 4): vec4 registers per lane
layout(constant_id = 2) const bool VEC4 = false;  // head_dim and q/k/v offsets and strides are multiples of 4
layout(constant_id = 3) const uint R = 4;         // tokens per invocation
layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer QBuf { float q[]; };
layout(std430, binding = 1) readonly buffer KBuf { float k[]; };
layout(std430, binding = 2) readonly buffer VBuf { float v[]; };
layout(std430, binding = 3) writeonly buffer OBuf { float o[]; };
layout(std430, binding = 4) readonly buffer Ranges { uvec2 ranges[]; };  // per token: [begin, end) key rows
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
  // Global index (dispatch bases included): token blocks fastest, so a workgroup is one head's tokens.
  const uint blocks = (p.tokens + R - 1) / R;
  const uint id = gl_WorkGroupID.x * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
  if (id >= blocks * p.heads) return;
  const uint t0 = (id % blocks) * R, h = id / blocks;
  const uint g = h / (p.heads / p.kv_heads);
  const float NEG_INF = uintBitsToFloat(0xff800000u);

  uint b[R], e[R];
  vec4 qr[R * HD4];
  vec4 acc[R * HD4];
  float m[R], l[R];
  uint lo = 0xffffffffu, hi = 0;
  for (uint r = 0; r < R; ++r) {
    const uint t = min(t0 + r, p.tokens - 1);  // past the last token: an empty range, nothing written
    e[r] = t0 + r < p.tokens ? min(ranges[t].y, p.kv_rows) : 0;
    b[r] = min(ranges[t].x, e[r]);
    if (b[r] < e[r]) {
      lo = min(lo, b[r]);
      hi = max(hi, e[r]);
    }
    const uint qb = p.q_off + t * p.q_stride + h * p.head_dim;
    for (uint i = 0; i < HD4; ++i) {
      qr[r * HD4 + i] = load_q(qb, i) * p.scale;
      acc[r * HD4 + i] = vec4(0.0);
    }
    m[r] = NEG_INF;
    l[r] = 0.0;
  }
  for (uint j = lo; j < hi; ++j) {
    const uint kb = p.k_off + j * p.kv_stride + g * p.head_dim;
    const uint vb = p.v_off + j * p.kv_stride + g * p.head_dim;
    vec4 kr[HD4], vr[HD4];
    for (uint i = 0; i < HD4; ++i) {
      kr[i] = load_k(kb, i);
      vr[i] = load_v(vb, i);
    }
    for (uint r = 0; r < R; ++r) {
      if (j < b[r] || j >= e[r]) continue;
      float s = 0.0;
      for (uint i = 0; i < HD4; ++i) s += dot(qr[r * HD4 + i], kr[i]);
      // One exp per key: the smaller of s and the running max is rescaled to the larger
      // (exp(-inf) = 0 at the first key clears the empty accumulator).
      const bool up = s > m[r];
      const float x = exp(-abs(s - m[r]));
      const float c = up ? x : 1.0, w = up ? 1.0 : x;
      l[r] = l[r] * c + w;
      for (uint i = 0; i < HD4; ++i) acc[r * HD4 + i] = acc[r * HD4 + i] * c + w * vr[i];
      m[r] = max(m[r], s);
    }
  }
  for (uint r = 0; r < R; ++r) {
    if (t0 + r >= p.tokens) break;
    const float inv = l[r] > 0.0 ? 1.0 / l[r] : 0.0;  // an empty range gives zeros
    const uint ob = p.o_off + (t0 + r) * p.o_stride + h * p.head_dim;
    for (uint i = 0; i < HD4; ++i)
      for (uint c = 0; c < 4; ++c)
        if (4 * i + c < p.head_dim) o[ob + 4 * i + c] = acc[r * HD4 + i][c] * inv;
  }
}
