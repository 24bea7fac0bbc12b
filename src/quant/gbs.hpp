// ALGORITHMS.md §4 GBS on the device: successive rounding with error feedback (GPTQ on (T, H̃)),
// greedy (step 4) or beam search of width K (§4.5), on a T already permuted to processing order
// and U = upper Cholesky factor of H̃⁻¹ in the same order. The same algorithm and conventions as
// reference/gptq.hpp (SweepProblem/SweepOptions) and reference/beam.hpp; fp32 on the device, so
// codes equal the reference's except where fp32 and float64 round apart at a near-tie.
//
// Groups: static (params per row and group of ORIGINAL columns, computed from T before rounding:
// min-max on the device, or given, e.g. clip-searched), or dynamic (processing-order groups of g
// columns, params from the fully updated row at the group's first column; g_idx formats only —
// GGUF + act-order needs static groups). Beam search needs static groups.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "kernels/beam_sweep.hpp"
#include "kernels/grid_params.hpp"
#include "kernels/gptq_sweep.hpp"
#include "reference/gptq.hpp"
#include "reference/layer_spec.hpp"
#include "vk/buffer.hpp"
#include "vk/context.hpp"
#include "vk/stream.hpp"

namespace vkq::quant {

struct GbsOptions {
  ref::GridSpec grid;
  bool static_groups = true;
  size_t block = 128;      // requested B (the device may use less: kernels::GptqSweep::device_block)
  size_t beam_width = 1;   // K: 1 = the greedy sweep, > 1 = beam search (static groups only)
};

// Device operands of one solve. The buffers must stay alive until the recording is submitted.
struct GbsProblem {
  const vk::Buffer* target = nullptr;  // T, rows × cols fp32, processing order (already permuted)
  const vk::Buffer* u = nullptr;       // cols × cols fp32, Uᵀ U = H̃⁻¹, processing order
  uint32_t rows = 0, cols = 0;
  std::vector<uint32_t> order;         // order[p] = original column at position p; empty = natural
  // Optional static params (rows × groups vec4(scale, zero, min, 0), original column groups);
  // null: min-max from T on the device.
  const vk::Buffer* static_params = nullptr;
};

// Results on the device, all in ORIGINAL column order.
struct GbsDeviceResult {
  uint32_t rows = 0, cols = 0, groups_per_row = 0;
  vk::Buffer codes;        // rows × cols int32
  vk::Buffer dequantized;  // rows × cols fp32 (Q)
  vk::Buffer params;       // rows × groups vec4
  vk::Buffer row_loss;     // rows fp32: Σ_j (w_j − q_j)²/U_jj²
  std::vector<uint32_t> g_idx;  // cols: group of each original column
  uint32_t block_used = 0;      // the B the device used
  std::vector<vk::Buffer> workspace;  // working rows and column maps the recording reads
};

class GbsSolver {
 public:
  GbsSolver(vk::Context& ctx, const GbsOptions& options);
  ~GbsSolver();

  // Records the whole solve into s; the caller submits while this solver (its kernels' scratch)
  // and the result (its workspace) are alive. T is not modified.
  GbsDeviceResult solve(vk::Stream& s, const GbsProblem& problem);

  const GbsOptions& options() const { return opt_; }

 private:
  vk::Context& ctx_;
  GbsOptions opt_;
  kernels::GridDesc desc_{};
  bool desc_ready_ = false;
  uint32_t desc_cols_ = 0;
  std::unique_ptr<kernels::GridEncode> encode_;
  std::unique_ptr<kernels::GptqSweep> sweep_;
  std::unique_ptr<kernels::BeamSweep> beam_;
};

// Host copy in the reference's result layout (fp32 values widened). Throws vkq::Error when a
// loss or group parameter is not finite (e.g. a GGUF scale that overflows fp16).
ref::SweepResult download_result(vk::Context& ctx, const GbsDeviceResult& r);

// Records, submits, waits and downloads.
ref::SweepResult gbs_quantize(vk::Context& ctx, const GbsProblem& problem, const GbsOptions& options);

}  // namespace vkq::quant
