// Perplexity by ALGORITHMS.md §6: the token stream cut into non-overlapping windows of ctx
// tokens; every token after the first of each window is scored; ppl = exp(mean NLL).
#pragma once

#include <cstdint>
#include <vector>

#include "calibrate/progress_tracker.hpp"
#include "forward/transformer_model.hpp"

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

// The window length a run uses: the request, else the model's context capped at 2048.
uint32_t evaluation_context(uint32_t requested, uint32_t model_context);

}  // namespace vkq::calibrate
