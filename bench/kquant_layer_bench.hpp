// Issue 9's layer-level comparison: on real ffn_down layers, the loss tr((W − Q) H (W − Q)ᵀ)/rows of
// vkquant's calibrated K-type quantization and of llama-quantize's (read from the file it wrote with an
// imatrix from the same tokens), with one H: the Gram matrix of the layer's inputs in the full-precision
// model on the calibration tokens (llama-imatrix's chunks, the same tokens its imatrix comes from).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "vk/context.hpp"

namespace vkq::bench {

struct KLayerOptions {
  std::string model, calib;          // the model, and the calibration text already sliced
  size_t seqs = 16, len = 256;       // llama-imatrix's chunks
  std::vector<uint32_t> blocks;      // which ffn_down layers
  std::vector<std::pair<std::string, std::string>> theirs;  // TYPE -> llama-quantize's file with ffn_down in TYPE
};

// Prints a table (block, type, ours, llama.cpp, ratio) and returns the rows as JSON.
nlohmann::json run_kquant_layer_bench(vk::Context& ctx, const KLayerOptions& o);

}  // namespace vkq::bench
