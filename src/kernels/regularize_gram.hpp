// Host wrapper of shaders/regularize_gram.comp and extract_diagonal.comp (ALGORITHMS.md §2,
// §4.1): the O(n) decisions — dead columns, μ = mean(diag H), ŝ = s / mean(s), act-order — are
// made on the host from the downloaded diagonal in the order of reference/regularize.cpp; the
// O(n²) gather H̃[p][q] = H[o_p][o_q] + [p = q] μ(δ + λ ŝ_{o_p}) runs on the device.
// n x n fp32 matrices are bound whole: n²·4 bytes must fit maxStorageBufferRange (≤ 2^32 − 1,
// so n ≤ 32767; 28 672 takes 3.3 GB); 32-bit element indices hold up to n ≤ 65535.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "reference/layer_spec.hpp"
#include "vk/buffer.hpp"
#include "vk/context.hpp"
#include "vk/kernel.hpp"
#include "vk/stream.hpp"

namespace vkq::kernels {

struct RegularizeOptions {
  double lambda = 0;                              // λ, relative to μ
  ref::Saliency saliency = ref::Saliency::unit;   // s_j for the λ term
  std::vector<double> channel_mean_abs;           // mean|x_j| per channel (act / act2)
  bool act_order = false;                         // process by descending H_jj (stable)
};

// Everything about H̃ except the O(n²) entries, decided from the n diagonal values of H.
struct RegularizePlan {
  uint32_t n = 0;
  std::vector<uint32_t> dead;      // columns with H_jj = 0, set to 1 before μ (as GPTQ)
  double mu = 0;                   // mean of the dead-fixed diagonal
  double lambda = 0;
  std::vector<double> shat;        // ŝ per original column; empty when λ = 0
  std::vector<uint32_t> order;     // position p processes original column order[p]
  std::vector<double> fixed_diag;  // H_jj with dead columns set to 1
  // Diagonal of H̃ at damping δ, in processing order: fixed_diag + μ(δ + λ ŝ), rounded once.
  std::vector<float> diagonal(double delta) const;
};

// Throws vkq::Error for a wrong-sized mean|x|, a negative or non-finite mean|x|, or mean(s) ≤ 0.
RegularizePlan plan_regularization(const std::vector<float>& diag, const RegularizeOptions& options);

// Device copies of a plan's order and of its diagonal at one δ; keep alive until submitted.
struct RegularizeInputs {
  uint32_t n = 0;
  vk::Buffer order, diagonal;
};
RegularizeInputs upload_regularization(vk::Context& ctx, const RegularizePlan& plan, double delta);

class RegularizeGram {
 public:
  explicit RegularizeGram(vk::Context& ctx);
  ~RegularizeGram();
  // Records d_j = A_jj of the n x n matrix `a` into `d` (n floats).
  void record_diagonal(vk::Stream& s, const vk::Buffer& a, uint32_t n, vk::Buffer& d);
  // Diagonal of `h` on the host (records, submits and waits on `s`; n floats come back).
  std::vector<float> diagonal(vk::Stream& s, const vk::Buffer& h, uint32_t n);
  // Records out = H̃ (n x n, processing order) from h; out must not alias h.
  void run(vk::Stream& s, const vk::Buffer& h, const RegularizeInputs& in, vk::Buffer& out);

 private:
  vk::Context& ctx_;
  uint32_t wg2_ = 16;
  std::unique_ptr<vk::Kernel> gather_, diag_;
};

// Throws unless an n x n fp32 matrix can be indexed by the shaders and bound as one buffer.
void require_square_supported(const vk::Context& ctx, const char* kernel, uint32_t n);

}  // namespace vkq::kernels
