// Public perplexity (vkquant.hpp): open the model on the chosen device and score the text.
#include <cmath>

#include "calibrate/kernel_times.hpp"
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
  std::string text = calibrate::read_text_range(options.text_path, options.text_begin, options.text_end);
  vk::ContextOptions co;
  co.device = options.device;
  co.profile = options.profile;
  vk::Context vkctx(co);
  forward::TransformerModel model(vkctx, src.weights, [&](uint32_t) { tracker.check_cancelled(); });
  tracker.begin("tokenize", options.text_path, 1, 1);
  const auto scored = calibrate::score_text(model, *src.tokenizer, std::move(text), options.protocol, options.ctx,
                                            options.max_windows, progress, cancel);
  const auto& nll = scored.nll;
  const uint32_t ctx = scored.ctx;
  PerplexityResult r;
  r.mean_nll = nll.mean();
  r.perplexity = std::exp(r.mean_nll);
  r.windows = nll.windows;
  r.tokens = nll.tokens;
  r.ctx = ctx;
  r.device = vkctx.probe().name;
  r.seconds = tracker.elapsed_seconds();
  r.profile = calibrate::kernel_times(vkctx.profile());
  return r;
}

}  // namespace vkq
