// Host wrapper of shaders/log_softmax_nll.comp: nll[t] = logsumexp(logits[t]) - logits[t][target[t]].
#pragma once

#include <cstdint>
#include <memory>

#include "vk/buffer.hpp"
#include "vk/context.hpp"
#include "vk/kernel.hpp"
#include "vk/stream.hpp"

namespace vkq::kernels {

struct LogSoftmaxNllShape {
  uint32_t tokens = 0, vocab = 0;
  uint32_t x_off = 0, x_stride = 0;  // elements; stride 0: packed (vocab)
  uint32_t out_off = 0;              // row t uses targets[out_off + t] and nll[out_off + t]
};

class LogSoftmaxNll {
 public:
  explicit LogSoftmaxNll(vk::Context& ctx);
  ~LogSoftmaxNll();
  // logits: tokens x vocab (strided); targets: uint32 ids (>= vocab gives NaN); nll: floats.
  void run(vk::Stream& s, const vk::Buffer& logits, const vk::Buffer& targets, vk::Buffer& nll,
           const LogSoftmaxNllShape& shape);

 private:
  std::unique_ptr<vk::Kernel> kernel_;
};

}  // namespace vkq::kernels
