// The layer-by-layer calibration driver (DESIGN.md "How a run flows"): tokenize the calibration
// text into sequences, then for each transformer block, true-sequentially per group of linears
// (q/k/v, then o, then gate/up, then down): run the partially quantized block over every chunk of
// calibration tokens, accumulate H (and D on the full-precision chain when α ≠ 0) on the device,
// solve the group, put the dequantized weights back, and finally run the block to produce the
// next block's inputs. Activations live in host memory and stream through the device in chunks.
#pragma once

#include "vkquant/vkquant.hpp"

namespace vkq::calibrate {

QuantizeResult run_quantize(const QuantizeOptions& options, const ProgressCallback& progress, const CancelFlag* cancel);

}  // namespace vkq::calibrate
