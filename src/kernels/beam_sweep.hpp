// Host wrapper of shaders/beam_sweep.comp (ALGORITHMS.md §4.5): beam search of width K over the
// blocked error-feedback sweep, static groups only (reference/beam.hpp's choices). Every beam
// carries its own error-updated row, so the working rows, the block errors and the tail GEMM
// grow K-fold: K·m × n working rows (twice: the block-end gather reads one and writes the other),
// K·m × B errors, and an m × n × K history of (parent, code) for the final backtrack.
// K = 1 reproduces kernels::GptqSweep bit for bit when both use the same block size (the beam
// kernel picks the same B as the static greedy sweep unless its own shared memory is short).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "kernels/gemm.hpp"
#include "kernels/grid_params.hpp"
#include "vk/buffer.hpp"
#include "vk/context.hpp"
#include "vk/kernel.hpp"
#include "vk/stream.hpp"

namespace vkq::kernels {

struct BeamShape {
  uint32_t m = 0, n = 0;
  uint32_t block = 128;  // requested B
};

struct BeamBuffers {
  const vk::Buffer* target = nullptr;  // m × n T, processing order (read only)
  const vk::Buffer* u = nullptr;       // n × n, Uᵀ U = H̃⁻¹, processing order
  const vk::Buffer* perm = nullptr;    // n uint32: original column of each processing position
  const vk::Buffer* params = nullptr;  // m × ng vec4 static group params (original column groups)
  vk::Buffer* codes = nullptr;         // m × n int32, original column order
  vk::Buffer* dequantized = nullptr;   // m × n fp32, original column order
  vk::Buffer* row_loss = nullptr;      // m fp32: the kept beam's Σ_j (w_j − q_j)²/U_jj²
};

class BeamSweep {
 public:
  static constexpr uint32_t kMaxWidth = 16;

  BeamSweep(vk::Context& ctx, const GridDesc& grid, uint32_t width);
  ~BeamSweep();

  uint32_t width() const { return k_; }
  // The B the device uses for a requested block.
  uint32_t device_block(uint32_t requested, uint32_t n) const;
  // Device bytes of the K-fold workspace for an m × n problem at block B.
  uint64_t workspace_bytes(uint32_t m, uint32_t n, uint32_t block) const;

  void run(vk::Stream& s, const BeamBuffers& b, const BeamShape& shape);

 private:
  const vk::Kernel& kernel(uint32_t block);
  vk::Buffer& scratch(vk::Buffer& buf, uint64_t bytes, const char* label);

  vk::Context& ctx_;
  GridDesc grid_;
  uint32_t k_;
  uint32_t wg_ = 64;
  Gemm gemm_;
  vk::Buffer wa_, wb_, e_, state_, hist_;
  std::vector<vk::Buffer> retired_;  // smaller workspaces an unsubmitted recording may still use
  std::map<uint32_t, std::unique_ptr<vk::Kernel>> kernels_;
};

}  // namespace vkq::kernels
