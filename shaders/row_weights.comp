#version 450
// row_weights: out[t][j] = (accumulate ? out[t][j] : 0) + f(w[t·w_stride + w_index]) · x[t][j] — one column of
// a tokens × experts routing matrix applied to each row of an activation: f = the weight, to add an
// expert's output into the mixture (ALGORITHMS.md §6), or f = 1 where the weight is non-zero and 0 elsewhere
// (exactly 0), to keep only the tokens routed to an expert for its Gram matrix.

layout(constant_id = 0) const uint WG = 64;
layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer XBuf { float x[]; };
layout(std430, binding = 1) readonly buffer WBuf { float w[]; };
layout(std430, binding = 2) buffer OBuf { float o[]; };

layout(push_constant) uniform Push { uint tokens, cols, w_stride, w_index, accumulate, indicator; } p;

void main() {
  const uint i = gl_GlobalInvocationID.x;
  if (i >= p.tokens * p.cols) return;
  const uint t = i / p.cols;
  const float wt = w[t * p.w_stride + p.w_index];
  const float f = p.indicator != 0u ? (wt != 0.0 ? 1.0 : 0.0) : wt;
  const float v = f == 0.0 ? 0.0 : f * x[i];  // exactly 0 for an unrouted token, whatever x holds
  o[i] = p.accumulate != 0u ? o[i] + v : v;
}
