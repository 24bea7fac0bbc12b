// Host wrapper of the blocked Cholesky family (ALGORITHMS.md §4.3): cholesky_diagonal_block,
// cholesky_store_panel, cholesky_zero_upper, triangular_inverse_diagonal, anti_transpose and
// extract_diagonal, with every O(n³) product through kernels::Gemm in its NT layout (the one
// the CPU-device register-blocked gemm serves; 5x the transposed layouts on lavapipe).
//   factor:          A = L Lᵀ, right-looking, NB-column blocks: diagonal block in shared memory,
//                    panel P = A21 L11⁻ᵀ by gemm into scratch, trailing A22 −= P Pᵀ by gemm.
//   invert_lower_transposed: Y = L⁻ᵀ, diagonal blocks inverted directly, then block column i
//                    Y[0:i, i] = −Y[0:i, 0:i] L[i, 0:i]ᵀ Y_ii by two gemms.
//   upper_factor_of_inverse: U upper with UᵀU = H̃⁻¹ as U = J M⁻¹ J, M = chol(J H̃ J) (J the
//                    exchange matrix): J H̃ J = M Mᵀ ⇒ H̃ = (JMJ)(JMJ)ᵀ with JMJ upper, so
//                    H̃⁻¹ = (JM⁻¹J)ᵀ(JM⁻¹J) — the same U as GPTQ's chol(L⁻ᵀL⁻¹, upper) (a
//                    Cholesky factor is unique), in 2n³/3 instead of 4n³/3 flops, with one
//                    factorisation instead of two and without forming H̃⁻¹ explicitly.
//                    J H̃ J and U = J (M⁻ᵀ)ᵀ J are both anti-transposes, done in place.
// Matrices are n x n row-major fp32 bound whole: n²·4 bytes must fit maxStorageBufferRange
// (at most 2^32 − 1, so n ≤ 32767 — 28 672 takes 3.3 GB); shader indices are 32-bit element
// offsets, valid up to n² < 2^32 (n ≤ 65535). Larger n is rejected with a vkq::Error.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kernels/gemm.hpp"
#include "vk/buffer.hpp"
#include "vk/context.hpp"
#include "vk/kernel.hpp"
#include "vk/stream.hpp"

namespace vkq::kernels {

struct CholeskyStatus {
  bool ok = true;
  bool input_nonfinite = false;   // upper_factor_of_inverse: H̃ held a NaN or Inf
  bool pivot_failed = false;      // a pivot was non-finite or ≤ 4·n·ε_fp32·|a_jj|
  uint32_t column = 0;            // first failing pivot, in the input matrix's indexing
  float pivot = 0;                // its value
  bool output_nonfinite = false;  // upper_factor_of_inverse: U held a NaN or Inf
  std::string describe() const;   // one line, for retry messages
};

class Cholesky {
 public:
  explicit Cholesky(vk::Context& ctx);
  ~Cholesky();
  Cholesky(const Cholesky&) = delete;
  Cholesky& operator=(const Cholesky&) = delete;

  // In place: reads the lower triangle of `a`, leaves L (zero upper triangle) with L Lᵀ = a.
  // On a failed pivot the contents of `a` are unspecified; status() tells after submission.
  void factor(vk::Stream& s, vk::Buffer& a, uint32_t n);
  // y = L⁻ᵀ (upper triangular, zero below the diagonal) for lower-triangular `l` (only its lower
  // triangle is read); y must not alias l. Transposed so that the big products are NT.
  void invert_lower_transposed(vk::Stream& s, const vk::Buffer& l, vk::Buffer& y, uint32_t n);
  // a ← J aᵀ J (reflection across the anti-diagonal), in place.
  void anti_transpose(vk::Stream& s, vk::Buffer& a, uint32_t n);
  // `work` holds symmetric H̃ on entry and is overwritten (with chol(J H̃ J)); `u` receives the
  // upper-triangular U with UᵀU = H̃⁻¹ (zero below the diagonal).
  void upper_factor_of_inverse(vk::Stream& s, vk::Buffer& work, vk::Buffer& u, uint32_t n);

  // Outcome of the last factor() / upper_factor_of_inverse() recorded; valid after submission.
  CholeskyStatus status() const;
  uint32_t block() const { return nb_; }

 private:
  void factor_recorded(vk::Stream& s, vk::Buffer& a, uint32_t n);
  void invert_recorded(vk::Stream& s, const vk::Buffer& l, vk::Buffer& x, uint32_t n);
  void anti_transpose_recorded(vk::Stream& s, vk::Buffer& a, uint32_t n, uint32_t status_slot);
  vk::Buffer& scratch(vk::Buffer& b, uint64_t bytes, const char* label);

  vk::Context& ctx_;
  Gemm gemm_;
  uint32_t nb_ = 64, wg_ = 256, wg2_ = 16;
  uint32_t last_n_ = 0;
  bool last_reversed_ = false;  // status column counts from the end (upper_factor_of_inverse)
  vk::Buffer status_, diag0_, block_inv_, panel_;  // panel_: n x NB gemm scratch
  std::vector<vk::Buffer> retired_;  // outgrown scratch that a pending recording may still use
  std::unique_ptr<vk::Kernel> diag_, block_, store_, zero_upper_, trtri_, anti_;
};

}  // namespace vkq::kernels
