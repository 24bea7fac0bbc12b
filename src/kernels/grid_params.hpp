// Host wrapper of shaders/grid_encode.comp (ALGORITHMS.md §3): min-max group params of a matrix
// on the device (with an optional clip-search shrink factor), and codes/dequantized values
// against computed or given params. Also defines the device grid description shared by the
// GBS sweep kernels. GroupParams live on the device as vec4(scale, zero, min, 0) per (row, group)
// (shaders/common/grid.glsl).
#pragma once

#include <cstdint>
#include <memory>

#include "vk/buffer.hpp"
#include "vk/context.hpp"
#include "vk/kernel.hpp"
#include "vk/stream.hpp"

namespace vkq::kernels {

// Same numbering as vkq::ref::GridFormat and the GRID_* constants of grid.glsl.
enum class GridFormatId : uint32_t { INT = 0, Q8_0 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 4, Q5_1 = 5, IQ4 = 6 };

struct GridDesc {
  GridFormatId format = GridFormatId::INT;
  uint32_t bits = 4;        // INT only
  bool symmetric = false;   // INT only
  uint32_t group = 128;     // columns per group, already resolved (GGUF: 32; per channel: n)

  uint32_t groups_per_row(uint32_t n) const { return (n + group - 1) / group; }
  int32_t code_lo() const;  // inclusive code range of the format
  int32_t code_hi() const;
};

// Bytes of one device GroupParams (vec4).
constexpr uint64_t kGroupParamsBytes = 16;

class GridEncode {
 public:
  GridEncode(vk::Context& ctx, const GridDesc& grid);
  ~GridEncode();

  // params (m × ng vec4) = min-max params of W (m × n fp32) with the range scaled by `shrink`.
  // position_of (n uint32, optional): W's columns are permuted and original column j is stored
  // at position_of[j]; groups are still formed from original columns (static groups of act-order).
  void params(vk::Stream& s, const vk::Buffer& w, uint32_t m, uint32_t n, vk::Buffer& params, float shrink = 1.0f,
              const vk::Buffer* position_of = nullptr);
  // params as above, then codes (int32) and dequantized (fp32), m × n.
  void encode(vk::Stream& s, const vk::Buffer& w, uint32_t m, uint32_t n, vk::Buffer& params, vk::Buffer& codes,
              vk::Buffer& dequantized, float shrink = 1.0f);
  // codes and dequantized against given params.
  void encode_with_params(vk::Stream& s, const vk::Buffer& w, uint32_t m, uint32_t n, const vk::Buffer& params,
                          vk::Buffer& codes, vk::Buffer& dequantized);

  const GridDesc& grid() const { return grid_; }

 private:
  void run(vk::Stream& s, const vk::Buffer& w, uint32_t m, uint32_t n, const vk::Buffer& params,
           const vk::Buffer* codes, const vk::Buffer* dequantized, uint32_t mode, float shrink,
           const vk::Buffer* position_of);
  vk::Context& ctx_;
  GridDesc grid_;
  std::unique_ptr<vk::Kernel> kernel_;
};

// Throws vkq::Error naming `kernel` when the grid description is invalid for n columns
// (bits outside 2..8, group 0, GGUF group other than 32 or n not a multiple of 32).
void validate_grid_desc(const char* kernel, const GridDesc& grid, uint32_t n);

}  // namespace vkq::kernels
