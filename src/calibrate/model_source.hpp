// Opens a model file and the tokenizer that goes with it: a GGUF carries its vocabulary; a
// llama2.c checkpoint needs its tokenizer file (--tokenizer).
#pragma once

#include <memory>
#include <string>

#include "model/model_weights.hpp"
#include "model/tokenizer.hpp"

namespace vkq::calibrate {

struct ModelSource {
  model::ModelWeights weights;
  std::unique_ptr<model::Tokenizer> tokenizer;
};

// What a model path holds, told by its contents (and a folder by being one).
enum class ModelFormat { gguf, llama2c, safetensors, folder, unknown };

// GGUF: the magic; safetensors: a u64 header length then '{'; llama2.c: a plausible 7 × int32
// config header (positive sizes, heads dividing dim); anything else unknown.
ModelFormat detect_model_format(const std::string& path);

// A llama2.c checkpoint is turned into an in-memory GGUF (vocabulary from the tokenizer file) so
// that it quantizes to a GGUF llama.cpp loads; its text is tokenized as llama2.c does. A Hugging
// Face checkpoint folder becomes the GGUF `vkquant convert` would write, assembled over its mapped
// safetensors. vkq::Error naming the file when it is missing, unreadable or not a model we read (a
// bare safetensors file is named as such), naming --tokenizer when a llama2.c checkpoint comes
// without one or a GGUF or folder (which carry their own tokenizer) comes with one.
ModelSource open_model_source(const std::string& model_path, const std::string& tokenizer_path);

// The bytes [begin, end) of a text file given as fractions of its size (0..1), cut back to
// whole lines so that no word is split. vkq::Error naming the file (missing, unreadable, empty
// range, bad fractions).
std::string read_text_range(const std::string& path, double begin, double end);

}  // namespace vkq::calibrate
