// ALGORITHMS.md §4 GBS step 4 — the per-column arithmetic of the error-feedback sweep, shared by
// gptq_sweep_block.comp and beam_sweep.comp so that beam width 1 reproduces the greedy sweep bit
// for bit (reference/error_feedback.hpp does the same for the float64 references). `precise`
// forbids fusing into fma, which a compiler could otherwise do in one shader and not the other.
#ifndef VKQ_GBS_FEEDBACK_GLSL
#define VKQ_GBS_FEEDBACK_GLSL

// Loss of one column: (w_j − q_j)² / U_jj².
float gbs_column_loss(float diff, float ujj) {
  precise float r = (diff * diff) / (ujj * ujj);
  return r;
}

// Loss so far plus one column's, in that order.
float gbs_add_loss(float loss, float diff, float ujj) {
  precise float r = loss + gbs_column_loss(diff, ujj);
  return r;
}

// Scaled error e_j = (w_j − q_j) / U_jj.
float gbs_scaled_error(float diff, float ujj) {
  precise float r = diff / ujj;
  return r;
}

// In-block feedback w_t −= e_j U_jt.
float gbs_feedback(float w, float e, float u) {
  precise float r = w - e * u;
  return r;
}

#endif  // VKQ_GBS_FEEDBACK_GLSL
