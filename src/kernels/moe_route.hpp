// Host wrapper of shaders/moe_route.comp: a mixture-of-experts router's weights per token from its
// logits — softmax over the experts, the top `used`, renormalised — as a dense tokens × experts matrix
// with exact zeros for the experts a token does not use.
#pragma once

#include <cstdint>
#include <memory>

#include "vk/buffer.hpp"
#include "vk/context.hpp"
#include "vk/kernel.hpp"
#include "vk/stream.hpp"

namespace vkq::kernels {

struct MoeRouteShape {
  uint32_t tokens = 0, experts = 0, used = 0;
  bool normalize = true;  // the selected weights divided by their sum (llama.cpp's norm_w)
  float scale = 0.0f;     // multiplies the weights unless 0 or 1 (expert_weights_scale)
};

class MoeRoute {
 public:
  explicit MoeRoute(vk::Context& ctx);
  ~MoeRoute();
  // route (tokens × experts) from logits (tokens × experts); both packed. vkq::Error for used = 0, used >
  // experts, more than 1024 experts or a buffer too small.
  void run(vk::Stream& s, const vk::Buffer& logits, vk::Buffer& route, const MoeRouteShape& shape);

 private:
  std::unique_ptr<vk::Kernel> kernel_;
};

}  // namespace vkq::kernels
