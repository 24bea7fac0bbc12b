#version 450
// anti_transpose (ALGORITHMS.md §4.3): A ← J Aᵀ J in place (J the exchange matrix), i.e. the
// reflection across the anti-diagonal, A[i][j] ↔ A[n−1−j][n−1−i]. For symmetric H̃ it gives
// J H̃ J; applied to Y = M⁻ᵀ, M = chol(J H̃ J), it gives U = J M⁻¹ J with UᵀU = H̃⁻¹. Each pair
// (i + j < n − 1) is owned by one invocation. Any NaN/Inf seen sets status[slot] = 1.

layout(constant_id = 0) const uint WG = 16;
layout(local_size_x_id = 0, local_size_y_id = 0) in;

layout(std430, binding = 0) buffer ABuf { float a[]; };
layout(std430, binding = 1) buffer StatusBuf { uint status[]; };

layout(push_constant) uniform Push {
  uint n;
  uint slot;  // status word to flag
} p;

bool is_finite(float v) { return (floatBitsToUint(v) & 0x7f800000u) != 0x7f800000u; }

void main() {
  const uint j = gl_GlobalInvocationID.x, i = gl_GlobalInvocationID.y;
  if (i >= p.n || j >= p.n || i + j > p.n - 1) return;
  const uint t = i * p.n + j;
  const uint u = (p.n - 1 - j) * p.n + (p.n - 1 - i);
  const float x = a[t], y = a[u];
  if (!is_finite(x) || !is_finite(y)) status[p.slot] = 1u;
  if (t == u) return;  // on the anti-diagonal
  a[t] = y;
  a[u] = x;
}
