// A Hugging Face checkpoint folder as a GGUF: the metadata and tensors llama.cpp's
// convert_hf_to_gguf.py would write, assembled in memory over the mapped safetensors (only the
// tensors the converter transforms — permuted q/k rows, norms — are copied), and `vkquant
// convert`'s writer, which streams it to disk tensor by tensor in F32, F16 or BF16.
#pragma once

#include <functional>
#include <string>

#include "model/gguf.hpp"

namespace vkq::io {

// The type of the matrices (1-D tensors are always F32, as llama.cpp's converter writes them).
enum class HfTensorType {
  source,  // as stored in the checkpoint: nothing rounded (what quantizing a folder reads)
  automatic,  // llama.cpp's "auto": BF16 for a BF16 checkpoint, else F16
  f32,
  f16,
  bf16,
};

// "auto", "F32", "F16", "BF16" (any case); vkq::Error naming the option otherwise.
HfTensorType parse_hf_tensor_type(const std::string& name);

// vkq::Error naming the folder or file for anything malformed, unsupported or missing.
model::GgufFile hf_as_gguf(const std::string& folder);

// Writes the checkpoint as an unquantized GGUF at `out` (atomically; an existing file only with
// `force`). `progress(done, total)` is called after each tensor, with counts of bytes written.
void write_hf_as_gguf(const std::string& folder, const std::string& out, HfTensorType type, bool force,
                      const std::function<void(uint64_t, uint64_t)>& progress = {});

}  // namespace vkq::io
