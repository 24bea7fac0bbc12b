// Fuzz target for the llama2.c readers: the first byte picks the checkpoint reader (even) or the
// tokenizer reader (odd) for the rest of the input. Either parses or throws vkq::Error; a parsed
// tokenizer also builds the llama2.c encoder and encodes a sample, its ids checked in range.
#include <string>

#include "fuzz_targets.hpp"
#include "model/llama2c.hpp"
#include "model/tokenizer_llama2c.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::fuzz {

int llama2c_one_input(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t* body = data + 1;
  const size_t n = size - 1;
  try {
    if (data[0] % 2 == 0) {
      const auto m = model::read_llama2c_checkpoint(body, n, "fuzz-checkpoint");
      for (const auto& t : m.tensors) {
        uint64_t count = 1;
        for (uint64_t d : t.dims) count *= d;
        if (t.data.size() != count) __builtin_trap();  // the reader's shapes must describe its data
      }
    } else {
      auto file = model::read_llama2c_tokenizer(body, n, "fuzz-tokenizer");
      if (file.pieces.size() != file.scores.size()) __builtin_trap();
      model::TokenizerVocab vocab;
      vocab.source = "fuzz-tokenizer";
      vocab.pieces = std::move(file.pieces);
      vocab.scores = std::move(file.scores);
      const model::Llama2cTokenizer tok(std::move(vocab));
      for (int32_t id : tok.encode("Once upon a time, \xC3\xA9t\xC3\xA9 \xF0\x9F\x98\x80 <0x41>", true)) {
        if (id < 0 || id >= tok.n_vocab()) __builtin_trap();
        (void)tok.decode_piece(id);
      }
    }
  } catch (const vkq::Error&) {
    // Rejected input: the expected outcome for most fuzz inputs.
  }
  return 0;
}

}  // namespace vkq::fuzz
