// llama2.c tokenizer.bin reader (run.c build_tokenizer): int32 max_token_length, then per token
// float32 score, int32 byte length, the bytes. The file holds no token count, so the caller's
// vocab_size (from the checkpoint) is checked against it when given.
#include <string>

#include "model/byte_reader.hpp"
#include "model/llama2c.hpp"
#include "model/mapped_file.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::model {

Llama2cVocab read_llama2c_tokenizer(const std::string& path, int32_t vocab_size) {
  if (vocab_size < 0) throw Error(path + ": expected vocab size " + std::to_string(vocab_size) + " is negative");
  const MappedFile file = MappedFile::open(path);
  return read_llama2c_tokenizer(file.data(), file.size(), path, vocab_size);
}

Llama2cVocab read_llama2c_tokenizer(const uint8_t* data, uint64_t size, const std::string& path, int32_t vocab_size) {
  if (vocab_size < 0) throw Error(path + ": expected vocab size " + std::to_string(vocab_size) + " is negative");
  ByteReader r(data, size, path);
  Llama2cVocab vocab;
  vocab.max_token_length = r.read<int32_t>("max_token_length");
  if (vocab.max_token_length <= 0)
    r.fail("max_token_length is " + std::to_string(vocab.max_token_length) + ", expected a positive value");
  while (vocab_size > 0 ? vocab.pieces.size() < size_t(vocab_size) : r.remaining() > 0) {
    const std::string token = "token " + std::to_string(vocab.pieces.size());
    const float score = r.read<float>("the score of " + token);
    const int32_t len = r.read<int32_t>("the length of " + token);
    if (len < 0 || len > vocab.max_token_length)
      r.fail(token + " has length " + std::to_string(len) + ", outside [0, max_token_length = " +
             std::to_string(vocab.max_token_length) + "]");
    const uint8_t* bytes = r.read_bytes(uint64_t(len), "the bytes of " + token);
    vocab.pieces.emplace_back(reinterpret_cast<const char*>(bytes), size_t(len));
    vocab.scores.push_back(score);
  }
  if (r.remaining() > 0)
    r.fail(std::to_string(r.remaining()) + " bytes follow the " + std::to_string(vocab_size) +
           " tokens the model's vocab_size announces");
  if (vocab.pieces.empty()) r.fail("the tokenizer holds no tokens");
  return vocab;
}

}  // namespace vkq::model
