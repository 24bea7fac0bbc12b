// The parsers' fuzz targets, one function each, built into one libFuzzer binary (one clang build of
// the model sources); VKQ_FUZZ_TARGET chooses the target at start-up (fuzz_main.cpp).
#pragma once

#include <cstddef>
#include <cstdint>

namespace vkq::fuzz {

int gguf_one_input(const uint8_t* data, size_t size);     // GGUF files (gguf_target.cpp)
int llama2c_one_input(const uint8_t* data, size_t size);  // llama2.c checkpoints and tokenizer files
int text_one_input(const uint8_t* data, size_t size);     // calibration text through every tokenizer
int safetensors_one_input(const uint8_t* data, size_t size);  // safetensors files (Hugging Face weights)
void text_init(const char* data_dir);                     // loads the tokenizers text_one_input uses

}  // namespace vkq::fuzz
