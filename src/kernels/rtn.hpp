// Host wrapper of shaders/rtn_quantize.comp (ALGORITHMS.md §4 RTN, grids §3): Q = grid(T) with
// min-max params per (row, group), or with given params (e.g. from kernels::ClipSearch). Outputs the
// params (vec4 per (row, group): scale, zero, min, 0 — shaders/common/grid.glsl), int32 codes and the
// dequantized Q, all row-major. Same conventions as reference/grid.hpp, computed in fp32.
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

// Throws vkq::Error naming `kernel` unless the grid is valid for rows of n columns (as
// ref::validate_grid: INT bits 2..8, GGUF group 0 or 32 and n a multiple of 32).
void validate_grid_spec(const char* kernel, const ref::GridSpec& spec, uint32_t n);
// Columns per group (GGUF: 32, INT group 0: n) and groups per row (the last may be partial).
uint32_t grid_group_columns(const ref::GridSpec& spec, uint32_t n);
uint32_t grid_groups_per_row(const ref::GridSpec& spec, uint32_t n);

// Device params (4 floats per group) <-> the reference struct.
std::vector<ref::GroupParams> params_from_device(const std::vector<float>& packed);
// Device vec4s of params; on the IQ4 grid .w = 1 marks them (grid.glsl reads the value table then).
std::vector<float> params_to_device(const std::vector<ref::GroupParams>& params,
                                    ref::GridFormat format = ref::GridFormat::INT);

struct RtnShape {
  uint32_t m = 0, n = 0;
  uint32_t ldt = 0;       // row stride of T; 0: packed (n)
  uint64_t t_offset = 0;  // first element of T
};

class Rtn {
 public:
  Rtn(vk::Context& ctx, const ref::GridSpec& spec);
  ~Rtn();
  // Min-max params of T into `params` (m × groups vec4), codes (m × n int32) and Q (m × n fp32).
  void run(vk::Stream& s, const vk::Buffer& t, vk::Buffer& params, vk::Buffer& codes, vk::Buffer& q,
           const RtnShape& shape);
  // Codes and Q of T against the given `params` (read only).
  void run_with_params(vk::Stream& s, const vk::Buffer& t, const vk::Buffer& params, vk::Buffer& codes,
                       vk::Buffer& q, const RtnShape& shape);
  const ref::GridSpec& spec() const { return spec_; }

 private:
  void dispatch(vk::Stream& s, const vk::Buffer& t, const vk::Buffer& params, vk::Buffer& codes, vk::Buffer& q,
                const RtnShape& shape, bool given);
  vk::Context& ctx_;
  ref::GridSpec spec_;
  std::unique_ptr<vk::Kernel> kernels_[2];  // by given params
};

}  // namespace vkq::kernels
