// Greedy (temperature 0) generation with llama2.c's run.c protocol (one token per pass, KV cache), so its known-good outputs can
// be reproduced byte for byte: encode the prompt with BOS, take `steps` positions, force prompt
// tokens, argmax (first maximum) after them, stop when BOS is produced, and print each new piece
// with the leading space stripped after BOS and lone unprintable bytes skipped.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "forward/transformer_model.hpp"
#include "model/tokenizer.hpp"

namespace vkq::forward {

struct GreedyResult {
  std::vector<int32_t> tokens;  // prompt (with BOS) then the generated ids
  std::string text;             // what run.c prints (without its final newline)
};

GreedyResult generate_greedy(TransformerModel& model, const model::Tokenizer& tokenizer, std::string_view prompt,
                             uint32_t steps);

// The index of the first maximum (llama2.c's argmax).
int32_t argmax_first(const std::vector<float>& v);

// run.c's decode + safe_printf for `next` following `prev`.
std::string printable_piece(const model::Tokenizer& tokenizer, int32_t prev, int32_t next);

}  // namespace vkq::forward
