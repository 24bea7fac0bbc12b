#include "forward/greedy_generate.hpp"

#include <algorithm>
#include <cctype>

namespace vkq::forward {

int32_t argmax_first(const std::vector<float>& v) {
  int32_t best = 0;
  for (size_t i = 1; i < v.size(); ++i)
    if (v[i] > v[best]) best = int32_t(i);
  return best;
}

std::string printable_piece(const model::Tokenizer& tok, int32_t prev, int32_t next) {
  std::string piece = tok.decode_piece(next);
  if (prev == tok.bos() && !piece.empty() && piece[0] == ' ') piece.erase(0, 1);
  if (piece.size() == 1) {
    const unsigned char b = static_cast<unsigned char>(piece[0]);
    if (!(std::isprint(b) || std::isspace(b))) return {};
  }
  return piece;
}

GreedyResult generate_greedy(TransformerModel& model, const model::Tokenizer& tok, std::string_view prompt,
                             uint32_t steps) {
  GreedyResult r;
  r.tokens = tok.encode(prompt, /*add_bos=*/true);
  if (r.tokens.empty()) throw Error("generate_greedy: the prompt encodes to no tokens");
  const size_t n_prompt = r.tokens.size();
  // As run.c: one token per forward pass, earlier positions' keys and values from the cache.
  forward::KvCache cache = model.make_kv_cache(std::max(steps, 1u));
  for (uint32_t pos = 0; pos < steps; ++pos) {
    const int32_t token = r.tokens[pos];
    const std::vector<float> logits = model.decode_logits(cache, token, pos);
    const int32_t next = pos + 1 < n_prompt ? r.tokens[pos + 1] : argmax_first(logits);
    if (next == tok.bos()) break;
    r.text += printable_piece(tok, token, next);
    if (pos + 1 >= n_prompt) r.tokens.push_back(next);
  }
  return r;
}

}  // namespace vkq::forward
