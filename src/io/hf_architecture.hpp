// What vkquant knows of each Hugging Face architecture it converts: the GGUF architecture,
// the tensor names, how llama.cpp's converter transforms tensors (q/k row permutation for the
// llama RoPE layout, Gemma's norm + 1), and the hyper-parameter keys it writes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "io/hf_metadata.hpp"
#include "io/hf_vocab.hpp"
#include "model/ggml_types.hpp"

namespace vkq::io {

struct HfArchitecture {
  const char* hf_class;   // config.json "architectures"[0]
  const char* gguf_arch;  // general.architecture
  bool permute_qk;        // rows of q/k reordered from HF's half-split RoPE to llama.cpp's pairs
  bool norm_plus_one;     // RMSNorm weights stored as w + 1 (Gemma multiplies by 1 + w)
  HfVocabRules vocab;
};

// The architecture of a checkpoint's config.json; vkq::Error naming the file and listing the
// supported classes otherwise.
const HfArchitecture& hf_architecture(const nlohmann::json& config, const std::string& config_path);

// The supported classes, comma-separated, for messages and --help.
std::string hf_supported_architectures();

// general.* and the architecture's hyper-parameter keys, in the order llama.cpp writes them.
// `file_type` is general.file_type; `model_name` general.name.
void add_hf_hparams(const HfArchitecture& arch, const nlohmann::json& config, uint32_t file_type,
                    const std::string& model_name, HfMetadata& md);

// The GGUF name of an HF tensor ("model.layers.3.mlp.up_proj.weight" -> "blk.3.ffn_up.weight");
// nullopt for tensors llama.cpp's converter drops (rotary inv_freq buffers).
// vkq::Error naming the tensor when it has no GGUF counterpart.
std::optional<std::string> hf_to_gguf_tensor_name(const HfArchitecture& arch, const std::string& hf_name);

// Llama 3's rope_freqs (head_dim/2 factors), computed as llama.cpp's converter does; empty
// when the config asks for no llama3 RoPE scaling.
std::vector<float> hf_llama3_rope_factors(const nlohmann::json& config);

}  // namespace vkq::io
