#include "model/tokenizer.hpp"

#include "vkquant/vkquant.hpp"

namespace vkq::model {

Tokenizer::Tokenizer(TokenizerVocab vocab) : vocab_(std::move(vocab)) { vocab_.validate(); }

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_bos, bool parse_special) const {
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 2);
  if (add_bos) {
    if (vocab_.bos < 0) throw Error(vocab_.source + ": BOS requested but the tokenizer has no BOS token");
    out.push_back(vocab_.bos);
  }
  encode_text(text, parse_special, out);
  return out;
}

void Tokenizer::check_id(int32_t id) const {
  if (id < 0 || id >= vocab_.size())
    throw Error(vocab_.source + ": token id " + std::to_string(id) + " is outside the vocabulary of " +
                std::to_string(vocab_.size()));
}

}  // namespace vkq::model
