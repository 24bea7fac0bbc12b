// Perplexity by ALGORITHMS.md §6: the token stream cut into non-overlapping windows of ctx
// tokens; every token after the first of each window is scored; ppl = exp(mean NLL).
#pragma once

#include <cstdint>
#include <vector>

#include <string>

#include "calibrate/progress_tracker.hpp"
#include "forward/transformer_model.hpp"
#include "model/tokenizer.hpp"

namespace vkq::calibrate {

struct WindowedNll {
  double sum = 0;
  uint64_t tokens = 0;
  uint64_t windows = 0;
  double mean() const { return tokens ? sum / double(tokens) : 0.0; }
};

// Windows shorter than 2 tokens (a tail) are dropped; max_windows = 0 means all.
WindowedNll windowed_nll(forward::TransformerModel& model, const std::vector<int32_t>& tokens, uint32_t ctx,
                         uint32_t max_windows, ProgressTracker* progress);

// llama-perplexity's protocol (tools/perplexity/perplexity.cpp): floor(tokens / ctx) chunks (at most
// max_chunks when non-zero), each chunk's first token replaced by `bos` (when bos >= 0), and only the
// predictions at positions ctx/2 .. ctx-2 scored. Needs at least 2 * ctx tokens, as llama.cpp does.
WindowedNll llama_protocol_nll(forward::TransformerModel& model, const std::vector<int32_t>& tokens, uint32_t ctx,
                               uint32_t max_chunks, int32_t bos, ProgressTracker* progress);

// A text scored by a protocol: the NLL sums and the window length used.
struct ScoredText {
  WindowedNll nll;
  uint32_t ctx = 0;
};

// Tokenizes `text` and scores it the way `protocol` says (vkquant.hpp PerplexityProtocol): Windows
// encodes with BOS and uses evaluation_context; Llama drops one trailing newline (llama.cpp's -f does),
// encodes with the model's own add_bos choice and defaults to ctx 512. Progress (optional) counts tokens.
ScoredText score_text(forward::TransformerModel& model, const model::Tokenizer& tokenizer, std::string text,
                      PerplexityProtocol protocol, uint32_t requested_ctx, uint32_t max_windows,
                      const ProgressCallback& progress, const CancelFlag* cancel);

// The window length a run uses: the request, else the model's context capped at 2048.
uint32_t evaluation_context(uint32_t requested, uint32_t model_context);

}  // namespace vkq::calibrate
