// Host wrapper of shaders/rope.comp: rotary position embedding in place on q or k rows, with
// the cos/sin table computed here in float64 for the configured base, scaling and rotated dims.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "vk/buffer.hpp"
#include "vk/context.hpp"
#include "vk/kernel.hpp"
#include "vk/stream.hpp"

namespace vkq::kernels {

struct RopeParams {
  uint32_t rot_dim = 0;       // leading dims of each head that rotate (even)
  double freq_base = 10000.0;
  double scale = 1.0;         // linear scaling: θ uses pos / scale
  bool neox = false;          // pairs (i, i + rot_dim/2) instead of (2i, 2i+1)
  // Llama 3's rope_freqs: θ_i is divided by freq_factors[i] (rot_dim/2 entries; empty = all 1).
  std::vector<double> freq_factors;
};

struct RopeShape {
  uint32_t tokens = 0, heads = 0, head_dim = 0;
  uint32_t x_off = 0, x_stride = 0;  // elements; stride 0: packed (heads * head_dim)
};

class Rope {
 public:
  // The table covers positions [0, max_positions); grow it with ensure_positions().
  Rope(vk::Context& ctx, const RopeParams& params, uint32_t max_positions);
  ~Rope();
  const RopeParams& params() const { return params_; }
  uint32_t max_positions() const { return positions_; }
  // Rebuilds a larger table when needed; the old one stays alive (recorded work may use it).
  void ensure_positions(uint32_t n);
  // x: tokens rows of heads x head_dim; positions: tokens int32 values in [0, max_positions)
  // (a position outside gives NaN in that row, never an out-of-bounds read).
  void run(vk::Stream& s, vk::Buffer& x, const vk::Buffer& positions, const RopeShape& shape);

 private:
  void build_table(uint32_t n);
  vk::Context& ctx_;
  RopeParams params_;
  uint32_t positions_ = 0;
  vk::Buffer table_;
  std::vector<vk::Buffer> retired_;
  std::unique_ptr<vk::Kernel> kernel_;
};

}  // namespace vkq::kernels
