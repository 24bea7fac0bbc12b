// ALGORITHMS.md §2–§5 on the device, the layer-level API the calibration driver calls: for the
// linears that share one input (q/k/v, gate/up, or a single o/down), factor the regularised Gram
// once, then per layer shift the target (α), search the grid (RTN, GPTQ/GBS or beam) and measure
// the loss tr((T − Q) H (T − Q)ᵀ)/m with the unregularised H. Semantics follow ref::quantize_layer
// (reference/layer_quant.cpp), which is the oracle in the tests.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "reference/layer_spec.hpp"
#include "vk/buffer.hpp"
#include "vk/context.hpp"

namespace vkq::quant {

// Statistics of one shared input, all on the device (n x n fp32, original column order).
struct LayerStatistics {
  const vk::Buffer* h = nullptr;          // H = (2/N) X Xᵀ
  const vk::Buffer* d = nullptr;          // cross-Gram D (α ≠ 0), else null
  uint32_t n = 0;
  std::vector<double> channel_mean_abs;   // mean|x_j| (saliency act/act2); may be empty otherwise
};

struct LayerWeights {
  std::string name;                       // for messages, e.g. "blk.3.attn_q.weight"
  const std::vector<float>* w = nullptr;  // rows x n, row-major
  uint32_t rows = 0;
};

struct LayerQuantOutput {
  std::string name;
  uint32_t rows = 0, cols = 0, groups_per_row = 0;
  std::vector<int32_t> codes;             // rows x cols, original column order
  std::vector<ref::GroupParams> params;   // rows x groups_per_row (scales fp16-exact for GGUF)
  std::vector<ref::SuperBlockParams> superblocks;  // rows x cols/256 when options.superblock ≠ none
  std::vector<uint32_t> g_idx;            // group of each original column
  std::vector<float> dequantized;         // Q, rows x cols
  double loss = 0;                        // tr((T − Q) H (T − Q)ᵀ)/rows, unregularised H
  double alpha_star = -1;                 // SNRQ's closed-form α* (ref::closed_form_alpha); −1 without D
  std::vector<double> row_loss;           // GBS: Σ (w − q)²/U_jj²; RTN: (t − q) H̃ (t − q)ᵀ
  double damp_used = 0;
  std::vector<std::string> damping_retries;
  std::vector<uint32_t> dead_columns;
  size_t refit_rows = 0;                  // rows whose refit sweep lowered their loss (ref::LayerQuantResult)
  double refit_row_loss_before = 0;       // Σ row_loss / rows before any refit
};

class LayerQuantizer {
 public:
  LayerQuantizer(vk::Context& ctx, const ref::LayerQuantOptions& options);
  ~LayerQuantizer();

  // Quantizes every layer in `layers` against the shared statistics. `label` names the group in
  // damping messages. vkq::Error on bad shapes, non-finite weights or a Gram that cannot be factored.
  std::vector<LayerQuantOutput> quantize_group(const std::vector<LayerWeights>& layers, const LayerStatistics& stats,
                                               const std::string& label);

  const ref::LayerQuantOptions& options() const { return opt_; }
  // Runs before each layer's solve (and may throw to stop): the caller's cancellation point.
  void set_cancel_check(std::function<void()> check) { cancel_check_ = std::move(check); }
  // Largest rows x cols fp32 block solved at once (default 64 MiB): a tensor with more rows is solved in
  // row tiles of this size, which bounds the device workspace (about five such blocks) without changing
  // any row's result.
  void set_row_tile_bytes(uint64_t bytes) { row_tile_bytes_ = bytes; }

 private:
  struct Group;
  struct RowsResult;
  Group prepare_group(const LayerStatistics& stats, const std::string& label);
  RowsResult solve_rows(Group& g, const LayerWeights& lw, const std::vector<float>& w_rows, uint32_t m);
  // Legacy/INT grids swept with static params and --group-refits > 0.
  bool wants_group_refits() const {
    return opt_.group_refits > 0 && opt_.superblock == ref::SuperBlock::none && opt_.method != ref::Method::rtn &&
           opt_.static_groups;
  }
  uint32_t rows_per_tile(uint32_t n) const;
  std::function<void()> cancel_check_;
  uint64_t row_tile_bytes_ = 64ull << 20;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  ref::LayerQuantOptions opt_;
};

// Validates options the way ref::quantize_layer does (same messages), for the CLI to fail early.
void validate_layer_options(const ref::LayerQuantOptions& o, uint32_t n);

}  // namespace vkq::quant
