#include "calibrate/model_source.hpp"

#include <filesystem>
#include <fstream>
#include <iterator>

#include "io/llama2c_gguf.hpp"
#include "model/gguf.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::calibrate {

bool is_llama2c_checkpoint(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {};
  in.read(magic, 4);
  return in.gcount() == 4 && std::string(magic, 4) != "GGUF";
}

ModelSource open_model_source(const std::string& model_path, const std::string& tokenizer_path) {
  if (!std::filesystem::exists(model_path)) throw Error(model_path + ": no such model file");
  // A damaged GGUF would otherwise be taken for a llama2.c checkpoint and misreported.
  if (std::filesystem::path(model_path).extension() == ".gguf" && is_llama2c_checkpoint(model_path))
    throw Error(model_path + ": not a GGUF file (bad magic: the file does not start with 'GGUF')");
  if (is_llama2c_checkpoint(model_path)) {
    if (tokenizer_path.empty())
      throw Error(model_path + " is a llama2.c checkpoint, which carries no vocabulary: pass its tokenizer with "
                               "--tokenizer (e.g. tok512.bin)");
    // As a GGUF (vocabulary included) so the output loads in llama.cpp; tokenized as llama2.c does.
    ModelSource src{model::ModelWeights::from_gguf(io::llama2c_as_gguf(model_path, tokenizer_path)),
                    model::make_tokenizer_llama2c(tokenizer_path)};
    return src;
  }
  ModelSource src{model::ModelWeights::open(model_path), nullptr};
  if (src.weights.gguf()) {
    if (!tokenizer_path.empty())
      src.tokenizer = model::make_tokenizer_llama2c(tokenizer_path);  // an explicit override wins
    else
      src.tokenizer = model::make_tokenizer(*src.weights.gguf());
  } else {
    if (tokenizer_path.empty())
      throw Error(model_path + " is a llama2.c checkpoint, which carries no vocabulary: pass its tokenizer with "
                               "--tokenizer (e.g. tok512.bin)");
    src.tokenizer = model::make_tokenizer_llama2c(tokenizer_path);
  }
  if (src.tokenizer->n_vocab() != int32_t(src.weights.config().vocab_size))
    throw Error("the tokenizer has " + std::to_string(src.tokenizer->n_vocab()) + " tokens but " + model_path +
                " has a vocabulary of " + std::to_string(src.weights.config().vocab_size));
  return src;
}

std::string read_text_range(const std::string& path, double begin, double end) {
  if (!(begin >= 0 && end <= 1 && begin < end))
    throw Error(path + ": text range " + std::to_string(begin) + ":" + std::to_string(end) +
                " must satisfy 0 <= begin < end <= 1");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open the text file");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw Error(path + ": read error");
  size_t b = size_t(begin * double(text.size()));
  size_t e = size_t(end * double(text.size()));
  // Snap to line starts so a word is never cut in two.
  if (b > 0) {
    const size_t nl = text.find('\n', b - 1);
    b = nl == std::string::npos ? text.size() : nl + 1;
  }
  if (e < text.size()) {
    const size_t nl = text.find('\n', e == 0 ? 0 : e - 1);
    e = nl == std::string::npos ? text.size() : nl + 1;
  }
  std::string out = b < e ? text.substr(b, e - b) : std::string();
  if (out.find_first_not_of(" \t\r\n") == std::string::npos)
    throw Error(path + ": the text is empty" + (begin > 0 || end < 1 ? " in the requested range" : std::string()));
  return out;
}

}  // namespace vkq::calibrate
