// What a quantize run will hold, from the model's shape and the run's settings, before it starts
// (`vkquant quantize --dry-run`, and the run report beside the measured peaks). The formula of
// docs/usage.md "Device memory": device memory is the largest of four phases — a block's stage, the
// embedding, the output head, the rounding of uncalibrated tensors — and host memory is the activation chains, an embedding held on the host,
// the packed output and the largest tensor's working copies.
#pragma once

#include <cstdint>

#include "model/llama_config.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::calibrate {

struct MemoryEstimateInputs {
  model::LlamaConfig config;
  uint64_t calibration_tokens = 0;
  uint64_t chunk_tokens = 0;       // tokens in flight at once (--chunk-tokens, or all if fewer)
  bool two_chains = false;         // α > 0: the full-precision chain too
  bool evaluate = false;           // --eval-text keeps the quantized model on the device
  bool f16_activations = false;    // --activations f16
  bool embedding_on_host = false;  // the table is gathered on the host (too large for a binding or the cap)
  bool embedding_changed = false;  // the quantized chain embeds a rounded table (then held on the host when there)
  uint64_t row_tile_bytes = 0;
  uint64_t output_bytes = 0;       // the packed quantized tensors, held until the file is written
  uint64_t largest_tensor_elements = 0;
  bool head_solved = true;         // the output head (or the tied embedding) is calibrated: its Gram and row tiles
  uint64_t rounded_elements = 0;   // the largest tensor rounded to nearest on the device (the embedding, usually)
};

MemoryNeeds estimate_memory(const MemoryEstimateInputs& in);

}  // namespace vkq::calibrate
