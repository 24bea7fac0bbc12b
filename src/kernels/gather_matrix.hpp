// Host wrapper of shaders/gather_matrix.comp: permutes the columns (and optionally the rows)
// of a row-major fp32 matrix, e.g. into and out of act-order processing order.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "vk/buffer.hpp"
#include "vk/context.hpp"
#include "vk/kernel.hpp"
#include "vk/stream.hpp"

namespace vkq::kernels {

class GatherMatrix {
 public:
  explicit GatherMatrix(vk::Context& ctx);
  ~GatherMatrix();
  // dst (rows x cols) = src[row_map[i]][col_map[j]]; row_map null = rows kept in place.
  // Maps are device buffers of uint32 (every entry < the source extent: checked on upload by
  // upload_map). src and dst must be different buffers.
  void run(vk::Stream& s, const vk::Buffer& src, uint32_t src_rows, uint32_t src_cols, const vk::Buffer* row_map,
           const vk::Buffer& col_map, vk::Buffer& dst, uint32_t rows, uint32_t cols);

  // Uploads a permutation/selection map after checking every index is below `extent`.
  static vk::Buffer upload_map(vk::Context& ctx, const std::vector<uint32_t>& map, uint32_t extent,
                               const char* what);

 private:
  vk::Context& ctx_;
  std::unique_ptr<vk::Kernel> kernels_[2];
};

// The inverse of a permutation (inverse[order[p]] = p); vkq::Error if `order` is not one.
std::vector<uint32_t> inverse_permutation(const std::vector<uint32_t>& order);

}  // namespace vkq::kernels
