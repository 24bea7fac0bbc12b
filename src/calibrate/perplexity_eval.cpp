#include "calibrate/perplexity_eval.hpp"

#include <algorithm>
#include <string>

namespace vkq::calibrate {

uint32_t evaluation_context(uint32_t requested, uint32_t model_context) {
  if (requested) {
    if (requested < 2) throw Error("--ctx " + std::to_string(requested) + ": a window needs at least 2 tokens");
    return requested;
  }
  return std::min<uint32_t>(model_context ? model_context : 2048, 2048);
}

WindowedNll windowed_nll(forward::TransformerModel& model, const std::vector<int32_t>& tokens, uint32_t ctx,
                         uint32_t max_windows, ProgressTracker* progress) {
  WindowedNll out;
  uint64_t n_windows = (tokens.size() + ctx - 1) / ctx;
  if (max_windows) n_windows = std::min<uint64_t>(n_windows, max_windows);
  for (uint64_t w = 0; w < n_windows; ++w) {
    const size_t begin = size_t(w) * ctx;
    const size_t end = std::min(tokens.size(), begin + ctx);
    if (end - begin < 2) break;  // a lone tail token predicts nothing
    if (progress) progress->begin("evaluate", "window " + std::to_string(w + 1), uint32_t(w + 1), uint32_t(n_windows));
    const auto r = model.nll(std::vector<int32_t>(tokens.begin() + long(begin), tokens.begin() + long(end)));
    out.sum += r.sum;
    out.tokens += r.count;
    ++out.windows;
    if (progress) progress->advance(double(end - begin));
  }
  if (!out.tokens) throw Error("perplexity: the text has fewer than 2 tokens, nothing to score");
  return out;
}

}  // namespace vkq::calibrate
