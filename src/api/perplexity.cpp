// Public perplexity (vkquant.hpp): open the model on the chosen device and score the text.
#include <cmath>

#include "calibrate/model_source.hpp"
#include "calibrate/perplexity_eval.hpp"
#include "forward/transformer_model.hpp"
#include "vk/context.hpp"

namespace vkq {

PerplexityResult perplexity(const PerplexityOptions& options, const ProgressCallback& progress,
                            const CancelFlag* cancel) {
  calibrate::ProgressTracker tracker(progress, cancel, 1.0);
  tracker.begin("load", options.model_path, 1, 1);
  auto src = calibrate::open_model_source(options.model_path, options.tokenizer_path);
  const std::string text = calibrate::read_text_range(options.text_path, options.text_begin, options.text_end);
  tracker.begin("tokenize", options.text_path, 1, 1);
  const auto tokens = src.tokenizer->encode(text, true);
  const uint32_t ctx = calibrate::evaluation_context(options.ctx, src.weights.config().context_length);
  vk::ContextOptions co;
  co.device = options.device;
  vk::Context vkctx(co);
  forward::TransformerModel model(vkctx, src.weights);
  const uint64_t windows = (tokens.size() + ctx - 1) / ctx;
  const uint64_t used = options.max_windows ? std::min<uint64_t>(windows, options.max_windows) : windows;
  calibrate::ProgressTracker eval(progress, cancel, double(std::min<uint64_t>(tokens.size(), used * ctx)));
  const auto nll = calibrate::windowed_nll(model, tokens, ctx, options.max_windows, &eval);
  eval.finish();
  PerplexityResult r;
  r.mean_nll = nll.mean();
  r.perplexity = std::exp(r.mean_nll);
  r.windows = nll.windows;
  r.tokens = nll.tokens;
  r.ctx = ctx;
  r.device = vkctx.probe().name;
  r.seconds = tracker.elapsed_seconds();
  return r;
}

}  // namespace vkq
