// Pre-tokenizers of byte-level BPE vocabularies: they cut text into words before BPE merges run,
// reproducing llama.cpp's regex splitting for the `tokenizer.ggml.pre` values listed below.
// Hand-written over Unicode categories (tokenizer_unicode.hpp) instead of a regex engine: each
// supported pattern is a small fixed automaton, and llama.cpp itself runs hand-written versions
// of the GPT-2 and LLaMA-3 patterns, whose exact behaviour these follow.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace vkq::model {

enum class PreTokenizerKind {
  // llama.cpp's fallback chain: [\p{P}$+<=>^~|]+ , then GPT-2, then \p{N}+ , then [0-9]{3}.
  Default,
  // 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
  Gpt2,
  // \p{N} (each digit alone), then GPT-2.
  Smollm,
  // (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
  Llama3,
  // The LLaMA-3 pattern with \p{N} instead of \p{N}{1,3}.
  Qwen2,
};

struct PreTokenizerSpec {
  PreTokenizerKind kind = PreTokenizerKind::Default;
  bool ignore_merges = false;   // a word that is itself a vocabulary piece is emitted whole
  bool bos_by_default = false;  // llama.cpp's add_bos default for models using this pre-tokenizer
};

// Maps a `tokenizer.ggml.pre` value to its pre-tokenizer, with llama.cpp's names and aliases:
//   "" / "default"                                           -> Default
//   "gpt-2", "phi-2", "mpt", "olmo", "jais", "gigachat", "mellum", "roberta-bpe" -> Gpt2
//   "gpt2"                        -> Gpt2 (our alias; llama.cpp itself only knows "gpt-2")
//   "smollm", "starcoder", "refact", "command-r", "codeshell", "exaone", "minerva-7b" -> Smollm
//   "llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral" -> Llama3, ignore_merges, BOS
//   "dbrx", "smaug-bpe"                                        -> Llama3
//   "qwen2", "deepseek-r1-qwen", "stablelm2"                   -> Qwen2
// Any other name throws vkq::Error naming it and `source` (the vocabulary's file).
PreTokenizerSpec pre_tokenizer_for(std::string_view name, std::string_view source);

// Splits `text` into words (UTF-8; malformed input bytes come back as U+FFFD, as in llama.cpp).
// Concatenating the words gives the text back when it is valid UTF-8.
std::vector<std::string> pre_tokenize(std::string_view text, PreTokenizerKind kind);

}  // namespace vkq::model
