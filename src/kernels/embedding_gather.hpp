// Host wrapper of shaders/embedding_gather.comp: out[t] = emb[ids[t]] (token embedding lookup).
#pragma once

#include <cstdint>
#include <memory>

#include "vk/buffer.hpp"
#include "vk/context.hpp"
#include "vk/kernel.hpp"
#include "vk/stream.hpp"

namespace vkq::kernels {

class EmbeddingGather {
 public:
  explicit EmbeddingGather(vk::Context& ctx);
  ~EmbeddingGather();
  // emb: vocab x cols; ids: tokens uint32 (an id >= vocab gives a NaN row); out: tokens x cols.
  void run(vk::Stream& s, const vk::Buffer& emb, const vk::Buffer& ids, vk::Buffer& out, uint32_t tokens,
           uint32_t cols, uint32_t vocab);

 private:
  std::unique_ptr<vk::Kernel> kernel_;
};

}  // namespace vkq::kernels
