// Host wrapper of shaders/row_weights.comp: one column of a tokens × experts routing matrix applied to
// the rows of an activation — an expert's output weighted into the mixture, or the tokens routed to an
// expert kept (others zeroed) for that expert's Gram matrix.
#pragma once

#include <cstdint>
#include <memory>

#include "vk/buffer.hpp"
#include "vk/context.hpp"
#include "vk/kernel.hpp"
#include "vk/stream.hpp"

namespace vkq::kernels {

struct RowWeightShape {
  uint32_t tokens = 0, cols = 0;  // x and out: tokens × cols, packed
  uint32_t w_stride = 0;          // row length of the weights (experts)
  uint32_t w_index = 0;           // the column of the weights used (the expert)
};

class RowWeights {
 public:
  explicit RowWeights(vk::Context& ctx);
  ~RowWeights();
  // out[t] = (accumulate ? out[t] : 0) + w[t][w_index] · x[t].
  void scale(vk::Stream& s, const vk::Buffer& x, const vk::Buffer& w, vk::Buffer& out, const RowWeightShape& shape,
             bool accumulate);
  // out[t] = x[t] where w[t][w_index] ≠ 0, else exactly 0.
  void mask(vk::Stream& s, const vk::Buffer& x, const vk::Buffer& w, vk::Buffer& out, const RowWeightShape& shape);

 private:
  void dispatch(vk::Stream& s, const vk::Buffer& x, const vk::Buffer& w, vk::Buffer& out, const RowWeightShape& shape,
                bool accumulate, bool indicator);
  std::unique_ptr<vk::Kernel> kernel_;
};

}  // namespace vkq::kernels
