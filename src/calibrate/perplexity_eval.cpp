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

WindowedNll llama_protocol_nll(forward::TransformerModel& model, const std::vector<int32_t>& tokens, uint32_t ctx,
                               uint32_t max_chunks, int32_t bos, ProgressTracker* progress) {
  if (ctx < 4) throw Error("--ctx " + std::to_string(ctx) + ": the llama protocol scores the second half of a window, "
                           "so a window needs at least 4 tokens");
  if (tokens.size() < 2 * size_t(ctx)) {
    throw Error("perplexity --protocol llama: the text has " + std::to_string(tokens.size()) +
                " tokens; llama-perplexity needs at least 2 x ctx = " + std::to_string(2 * size_t(ctx)) +
                " (use a longer text or a smaller --ctx)");
  }
  uint64_t n_chunks = tokens.size() / ctx;
  if (max_chunks) n_chunks = std::min<uint64_t>(n_chunks, max_chunks);
  const uint32_t first = ctx / 2;
  WindowedNll out;
  for (uint64_t c = 0; c < n_chunks; ++c) {
    if (progress) progress->begin("evaluate", "chunk " + std::to_string(c + 1), uint32_t(c + 1), uint32_t(n_chunks));
    const auto begin = tokens.begin() + long(c * ctx);
    std::vector<int32_t> window(begin, begin + ctx);
    if (bos >= 0) window[0] = bos;  // llama.cpp overwrites (does not insert) the chunk's first token
    const auto r = model.nll(window, first);
    out.sum += r.sum;
    out.tokens += r.count;
    ++out.windows;
    if (progress) progress->advance(double(ctx));
  }
  return out;
}

ScoredText score_text(forward::TransformerModel& model, const model::Tokenizer& tokenizer, std::string text,
                      PerplexityProtocol protocol, uint32_t requested_ctx, uint32_t max_windows,
                      const ProgressCallback& progress, const CancelFlag* cancel) {
  const bool llama = protocol == PerplexityProtocol::Llama;
  if (llama && !text.empty() && text.back() == '\n') text.pop_back();
  const auto tokens = tokenizer.encode(text, llama ? tokenizer.add_bos_by_default() : true);
  ScoredText out;
  out.ctx = llama ? (requested_ctx ? requested_ctx : 512u)
                  : evaluation_context(requested_ctx, model.config().context_length);
  const uint64_t windows = llama ? tokens.size() / out.ctx : (tokens.size() + out.ctx - 1) / out.ctx;
  const uint64_t used = max_windows ? std::min<uint64_t>(windows, max_windows) : windows;
  ProgressTracker tracker(progress, cancel, double(std::max<uint64_t>(1, std::min<uint64_t>(tokens.size(), used * out.ctx))));
  ProgressTracker* tp = progress || cancel ? &tracker : nullptr;
  const int32_t bos = tokenizer.add_bos_by_default() ? tokenizer.bos() : -1;
  out.nll = llama ? llama_protocol_nll(model, tokens, out.ctx, max_windows, bos, tp)
                  : windowed_nll(model, tokens, out.ctx, max_windows, tp);
  if (tp) tracker.finish();
  return out;
}

}  // namespace vkq::calibrate
