#version 450
// embedding_gather: out[t][c] = emb[ids[t]][c] — the token embedding lookup (ALGORITHMS.md §6).
// An id outside the vocabulary (the host validates ids) gives NaN, never an out-of-bounds read.

layout(constant_id = 0) const uint WG = 64;
layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer Emb { float emb[]; };
layout(std430, binding = 1) readonly buffer Ids { uint ids[]; };
layout(std430, binding = 2) writeonly buffer OBuf { float o[]; };

layout(push_constant) uniform Push { uint tokens, cols, vocab; } p;

void main() {
  const uint i = gl_GlobalInvocationID.x;
  if (i >= p.tokens * p.cols) return;
  const uint t = i / p.cols, c = i % p.cols;
  const uint id = ids[t];
  o[i] = id < p.vocab ? emb[id * p.cols + c] : uintBitsToFloat(0x7fc00000u);
}
