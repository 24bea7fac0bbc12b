// Host wrapper of cross_gram_accumulate (on CPU devices its form cross_gram_registers) + gram_finalize
// (ALGORITHMS.md §1–§2): streams chunks of token rows of X_f and X_q and keeps D_raw = Σ_chunks w · ΔXᵀ X_q (ΔX = X_f − X_q) on the device
// with compensated fp32 sums; finalize() yields D = (2/N) D_raw, N = all tokens accumulated.
// D[i][j] = (2/N) Σ_t ΔX[t][i] X_q[t][j] (row-major n × n), the D of T = W + α W D H̃⁻¹.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "vk/buffer.hpp"
#include "vk/context.hpp"
#include "vk/kernel.hpp"
#include "vk/stream.hpp"

namespace vkq::kernels {

class CrossGramAccumulator {
 public:
  // Tokens per dispatch: bounds each fp32 partial and keeps one dispatch short.
  static constexpr uint32_t kChunkTokens = 2048;

  CrossGramAccumulator(vk::Context& ctx, uint32_t channels);
  ~CrossGramAccumulator();

  void reset(vk::Stream& s);
  // Adds `tokens` rows of width n of X_f (from element xf_offset) and X_q (from xq_offset), both fp32,
  // weighted by `weight` (α_s of this calibration sequence for sampled α, else 1). The tokens count
  // towards N with weight 1 whatever `weight` is (§2: D = Σ_s α_s (2/N) ΔX_s X_q,sᵀ).
  void accumulate(vk::Stream& s, const vk::Buffer& x_full, const vk::Buffer& x_quant, uint32_t tokens,
                  float weight = 1.0f, uint64_t xf_offset = 0, uint64_t xq_offset = 0);
  // Writes D = (2/N) D_raw (fp32, n × n row-major) into `d`.
  void finalize(vk::Stream& s, vk::Buffer& d);

  uint32_t channels() const { return n_; }
  uint64_t tokens() const { return tokens_; }
  // (2/N)(D_hi − D_lo) in double (call after the stream has been submitted).
  std::vector<double> cross_gram_host() const;

 private:
  vk::Context& ctx_;
  uint32_t n_;
  uint64_t tokens_ = 0;
  uint32_t wg_ = 16;
  bool cpu_variant_ = false;  // cross_gram_registers.comp where n and the offsets allow (CPU devices)
  vk::Buffer d_hi_, d_lo_;
  std::unique_ptr<vk::Kernel> accumulate_, registers_, finalize_;
  const vk::Kernel& kernel(bool registers);
};

}  // namespace vkq::kernels
