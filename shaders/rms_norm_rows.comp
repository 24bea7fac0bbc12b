#version 450
// rms_norm, one invocation per token row: the same result as rms_norm.comp (see there) without its
// shared-memory reduction and barriers, for CPU devices (kernels/row_form.hpp). Four interleaved
// partial sums keep the fp32 rounding of long rows near the tree reduction's.

layout(constant_id = 0) const uint WG = 64;
layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer XBuf { float x[]; };
layout(std430, binding = 1) readonly buffer WBuf { float w[]; };
layout(std430, binding = 2) writeonly buffer YBuf { float y[]; };

layout(push_constant) uniform Push {
  uint rows, cols;
  uint x_off, x_stride;
  uint y_off, y_stride;
  float eps;
} p;

void main() {
  const uint r = gl_WorkGroupID.x * WG + gl_LocalInvocationID.x;
  if (r >= p.rows) return;
  const uint xb = p.x_off + r * p.x_stride;
  vec4 s4 = vec4(0.0);
  uint c = 0;
  for (; c + 4 <= p.cols; c += 4) {
    const vec4 v = vec4(x[xb + c], x[xb + c + 1], x[xb + c + 2], x[xb + c + 3]);
    s4 += v * v;
  }
  for (; c < p.cols; ++c) s4.x += x[xb + c] * x[xb + c];
  const float inv = 1.0 / sqrt((s4.x + s4.y + s4.z + s4.w) / float(p.cols) + p.eps);
  const uint yb = p.y_off + r * p.y_stride;
  for (c = 0; c < p.cols; ++c) y[yb + c] = x[xb + c] * inv * w[c];
}
