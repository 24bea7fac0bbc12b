// A llama2.c checkpoint (+ its tokenizer file) as a GGUF, so a .bin model flows through the same
// plan/calibrate/write path as a GGUF and the output loads in llama.cpp: the metadata keys and
// token types llama.cpp's convert-llama2c-to-ggml writes, and every tensor as F32.
#pragma once

#include <string>

#include "model/gguf.hpp"

namespace vkq::io {

// Reads both files and returns the GGUF, held in memory (no file is left behind).
// vkq::Error naming the file for a bad checkpoint or tokenizer.
model::GgufFile llama2c_as_gguf(const std::string& checkpoint_path, const std::string& tokenizer_path);

}  // namespace vkq::io
