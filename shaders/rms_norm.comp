#version 450
// rms_norm: y[r][c] = x[r][c] / sqrt(mean_c x[r][c]^2 + eps) * w[c], one workgroup per token row
// (LLaMA RMSNorm of the forward pass that feeds calibration and evaluation, ALGORITHMS.md §6).

layout(constant_id = 0) const uint WG = 64;  // power of two
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

shared float red[WG];

void main() {
  const uint r = gl_WorkGroupID.x;
  if (r >= p.rows) return;  // whole workgroup leaves together
  const uint lid = gl_LocalInvocationID.x;
  const uint xb = p.x_off + r * p.x_stride;
  float s = 0.0;
  for (uint c = lid; c < p.cols; c += WG) {
    const float v = x[xb + c];
    s += v * v;
  }
  red[lid] = s;
  barrier();
  for (uint h = WG / 2; h > 0; h >>= 1) {
    if (lid < h) red[lid] += red[lid + h];
    barrier();
  }
  const float inv = 1.0 / sqrt(red[0] / float(p.cols) + p.eps);
  const uint yb = p.y_off + r * p.y_stride;
  for (uint c = lid; c < p.cols; c += WG) y[yb + c] = x[xb + c] * inv * w[c];
}
