#version 450
// gather_matrix: out[i][j] = in[row_map[i]][col_map[j]] (row_map optional: identity).
// Moves W, D and T between original and act-order processing order (ALGORITHMS.md §4 step 2).

layout(constant_id = 0) const uint WG = 16;
layout(constant_id = 1) const uint MAP_ROWS = 0;  // 1: rows are gathered too
layout(local_size_x_id = 0, local_size_y_id = 0) in;

layout(std430, binding = 0) readonly buffer In { float src[]; };
layout(std430, binding = 1) readonly buffer RowMap { uint row_map[]; };
layout(std430, binding = 2) readonly buffer ColMap { uint col_map[]; };
layout(std430, binding = 3) writeonly buffer Out { float dst[]; };

layout(push_constant) uniform Push {
  uint rows, cols;     // of the output
  uint src_cols;       // row stride of the input
} p;

void main() {
  const uint j = gl_GlobalInvocationID.x, i = gl_GlobalInvocationID.y;
  if (i >= p.rows || j >= p.cols) return;
  const uint si = MAP_ROWS != 0 ? row_map[i] : i;
  dst[i * p.cols + j] = src[si * p.src_cols + col_map[j]];
}
