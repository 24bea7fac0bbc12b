// A Hugging Face tokenizer as GGUF tokenizer metadata, with the keys and values llama.cpp's
// convert_hf_to_gguf.py writes: SentencePiece models from tokenizer.model (tokens, scores,
// types), byte-level BPE from tokenizer.json (tokens, types, merges, the pre-tokenizer's
// llama.cpp name), then the special tokens, add_bos/add_eos and the chat template.
#pragma once

#include <cstdint>

#include "io/hf_metadata.hpp"
#include "model/hf_checkpoint.hpp"

namespace vkq::io {

// How a model family's converter chooses its vocabulary.
struct HfVocabRules {
  bool spm_no_space_prefix = false;  // gemma: tokenizer.ggml.add_space_prefix = false after an SPM vocab
  // phi3's own SentencePiece path: added tokens (tokenizer_config.json's added_tokens_decoder, then
  // tokenizer.json's added_tokens) are control when special, else user-defined, with no other rule; a
  // GPT2Tokenizer class means a byte-level BPE vocabulary (Phi-4); no tokenizer.model is an error.
  bool phi3 = false;
};

// Appends the tokenizer keys to `md`. vocab_size is config.json's (tokens past the tokenizer's
// own are padded as llama.cpp does). vkq::Error naming the file for a tokenizer we cannot convert.
void add_hf_vocab(const model::HfCheckpoint& ckpt, uint32_t vocab_size, const HfVocabRules& rules, HfMetadata& md);

}  // namespace vkq::io
