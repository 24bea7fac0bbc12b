// Host wrapper of shaders/gptq_sweep_block.comp (ALGORITHMS.md §4 GBS step 4): the blocked
// error-feedback sweep of every row of W against U, block by block — one dispatch for the
// in-block sweep, then the tail update W[:, tail] −= E · U[block, tail] with kernels::Gemm.
//
// Block size on the device: the requested B, capped so that the packed upper triangle of U's
// diagonal block (B(B+1)/2 floats) fits the probed shared memory (B = 128 needs 33 KiB: it fits
// 48 KiB GPUs; lavapipe's 32 KiB gives 120). With dynamic groups and more than one group per row,
// B is further chosen so every group starts at a block start or lies inside one block (a multiple
// of g when g ≤ B, else a divisor of g). The sweep's result does not depend on B beyond fp32
// rounding: blocking only defers the tail update, and dynamic params are read from the fully
// updated row either way.
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

struct SweepShape {
  uint32_t m = 0, n = 0;
  uint32_t block = 128;        // requested B (the device may use less, see device_block)
  bool dynamic_groups = false; // params from the updated row (else static, given)
};

// Operands of one sweep; all fp32/int32/uint32 device buffers.
struct SweepBuffers {
  vk::Buffer* w = nullptr;              // m × n, processing order; overwritten (the working rows)
  const vk::Buffer* u = nullptr;        // n × n upper factor, Uᵀ U = H̃⁻¹, processing order
  const vk::Buffer* perm = nullptr;     // n uint32: original column of each processing position
  vk::Buffer* params = nullptr;         // m × ng vec4: static (read) or dynamic (written)
  vk::Buffer* codes = nullptr;          // m × n int32, original column order
  vk::Buffer* dequantized = nullptr;    // m × n fp32, original column order
  vk::Buffer* row_loss = nullptr;       // m fp32: Σ_j (w_j − q_j)²/U_jj²
};

class GptqSweep {
 public:
  GptqSweep(vk::Context& ctx, const GridDesc& grid);
  ~GptqSweep();

  // Largest B whose packed triangle fits the device's shared memory.
  static uint32_t max_block(const vk::DeviceProbe& probe);
  // The B the device uses for a requested block (see the header comment).
  uint32_t device_block(uint32_t requested, uint32_t n, bool dynamic_groups) const;

  // The whole sweep: every block's dispatch and tail GEMM, recorded into s.
  void run(vk::Stream& s, const SweepBuffers& b, const SweepShape& shape);

  const GridDesc& grid() const { return grid_; }

 private:
  const vk::Kernel& kernel(uint32_t block, bool dynamic_groups);
  void check(const SweepBuffers& b, const SweepShape& shape) const;

  vk::Context& ctx_;
  GridDesc grid_;
  uint32_t wg_ = 64;
  Gemm gemm_;
  vk::Buffer e_;  // m × B scaled errors of the current block
  std::vector<vk::Buffer> retired_;  // smaller E buffers an unsubmitted recording may still use
  std::map<uint64_t, std::unique_ptr<vk::Kernel>> kernels_;
};

// Shared by the sweep wrappers: the aligned block for dynamic groups (see GptqSweep).
uint32_t aligned_block(uint32_t cap, uint32_t n, uint32_t group, bool dynamic_groups);

}  // namespace vkq::kernels
