// Host wrapper of gram_accumulate + channel_stats + gram_finalize (ALGORITHMS.md §1):
// streams chunks of token rows and keeps S = sum x x^T, sum |x|, sum x^2 on the device with
// compensated fp32 sums; finalize() yields H = (2/N) S for the solvers.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "vk/buffer.hpp"
#include "vk/context.hpp"
#include "vk/kernel.hpp"
#include "vk/stream.hpp"

namespace vkq::kernels {

enum class ActivationType { F32, F16 };

struct ChannelStats {
  uint64_t tokens = 0;
  std::vector<double> mean_abs;  // mean_t |x_j|
  std::vector<double> mean_sq;   // mean_t x_j^2 (= H_jj / 2)
};

class GramAccumulator {
 public:
  // Tokens per dispatch: bounds each fp32 partial and keeps one dispatch short.
  static constexpr uint32_t kChunkTokens = 2048;

  GramAccumulator(vk::Context& ctx, uint32_t channels);
  ~GramAccumulator();

  void reset(vk::Stream& s);
  // Adds `tokens` rows of width n starting at element `x_offset` of `x` (fp32 or packed fp16).
  void accumulate(vk::Stream& s, const vk::Buffer& x, uint32_t tokens, ActivationType type, uint64_t x_offset = 0);
  // Writes H = (2/N) S (fp32, n x n) into `h`.
  void finalize(vk::Stream& s, vk::Buffer& h);

  // The rows accumulated included rows of zeros standing for tokens that are not this matrix's (an expert's
  // unrouted tokens): count `tokens` instead, so H and the channel means are over the real ones.
  void count_rows_as(uint64_t tokens) { tokens_ = tokens; }

  uint32_t channels() const { return n_; }
  uint64_t tokens() const { return tokens_; }
  // Host copies (call after the stream has been submitted).
  std::vector<double> hessian_host() const;  // (2/N)(S_hi - S_lo) in double
  ChannelStats channel_stats_host() const;

 private:
  const vk::Kernel& gram_kernel(ActivationType t);
  const vk::Kernel& stats_kernel(ActivationType t);
  const vk::Kernel& registers_kernel(ActivationType t);

  vk::Context& ctx_;
  uint32_t n_;
  uint64_t tokens_ = 0;
  uint32_t wg_ = 16;
  bool cpu_variant_ = false;  // gram_registers.comp where n and offsets allow
  vk::Buffer s_hi_, s_lo_, stats_;
  std::unique_ptr<vk::Kernel> gram_[2], registers_[2], stats_k_[2], finalize_;
};

}  // namespace vkq::kernels
