#include "calibrate/model_source.hpp"

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "io/hf_gguf.hpp"
#include "io/llama2c_gguf.hpp"
#include "model/gguf.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::calibrate {

ModelFormat detect_model_format(const std::string& path) {
  if (std::filesystem::is_directory(path)) return ModelFormat::folder;
  std::ifstream in(path, std::ios::binary);
  unsigned char head[28] = {};
  in.read(reinterpret_cast<char*>(head), sizeof head);
  const size_t got = size_t(in.gcount());
  if (got >= 4 && std::memcmp(head, "GGUF", 4) == 0) return ModelFormat::gguf;
  if (got >= 9 && head[8] == '{') {
    uint64_t len = 0;
    std::memcpy(&len, head, 8);
    if (len > 1 && len < (uint64_t(1) << 32)) return ModelFormat::safetensors;
  }
  if (got == sizeof head) {  // llama2.c: dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab (±), seq_len
    int32_t c[7];
    std::memcpy(c, head, sizeof c);
    const int64_t vocab = c[5] < 0 ? -int64_t(c[5]) : c[5];
    const bool plausible = c[0] > 0 && c[0] <= 65536 && c[1] > 0 && c[1] <= (1 << 20) && c[2] > 0 && c[2] <= 1024 &&
                           c[3] > 0 && c[3] <= c[0] && c[0] % c[3] == 0 && c[4] > 0 && c[4] <= c[3] &&
                           c[3] % c[4] == 0 && vocab > 0 && vocab <= (1 << 24) && c[6] > 0 && c[6] <= (1 << 24);
    if (plausible) return ModelFormat::llama2c;
  }
  return ModelFormat::unknown;
}

ModelSource open_model_source(const std::string& model_path, const std::string& tokenizer_path) {
  if (!std::filesystem::exists(model_path)) throw Error(model_path + ": no such model file");
  const ModelFormat format = detect_model_format(model_path);
  switch (format) {
    case ModelFormat::folder: {
      if (!tokenizer_path.empty())
        throw Error("--tokenizer " + tokenizer_path + ": " + model_path +
                    " is a Hugging Face checkpoint, whose tokenizer comes from its own files; --tokenizer is for "
                    "llama2.c checkpoints");
      // The GGUF convert would write, assembled over the mapped safetensors: the same bytes flow on.
      ModelSource src{model::ModelWeights::from_gguf(io::hf_as_gguf(model_path)), nullptr};
      src.tokenizer = model::make_tokenizer(*src.weights.gguf());
      return src;
    }
    case ModelFormat::safetensors:
      throw Error(model_path + " is a safetensors file: pass the Hugging Face checkpoint folder that holds it (with "
                               "config.json and the tokenizer files)");
    case ModelFormat::unknown:
      // A damaged GGUF is named as one rather than as an unknown format.
      if (std::filesystem::path(model_path).extension() == ".gguf")
        throw Error(model_path + ": not a GGUF file (bad magic: the file does not start with 'GGUF')");
      throw Error(model_path + ": not a model vkquant reads (expected a GGUF file, or a llama2.c checkpoint .bin "
                               "with --tokenizer)");
    case ModelFormat::llama2c: {
      if (std::filesystem::path(model_path).extension() == ".gguf")
        throw Error(model_path + ": not a GGUF file (bad magic: the file does not start with 'GGUF')");
      if (tokenizer_path.empty())
        throw Error(model_path + " is a llama2.c checkpoint, which carries no vocabulary: pass its tokenizer with "
                                 "--tokenizer (e.g. tok512.bin)");
      // As a GGUF (vocabulary included) so the output loads in llama.cpp; tokenized as llama2.c does.
      ModelSource src{model::ModelWeights::from_gguf(io::llama2c_as_gguf(model_path, tokenizer_path)),
                      model::make_tokenizer_llama2c(tokenizer_path)};
      return src;
    }
    case ModelFormat::gguf: break;
  }
  if (!tokenizer_path.empty())
    throw Error("--tokenizer " + tokenizer_path + ": " + model_path +
                " is a GGUF, which carries its own tokenizer; --tokenizer is for llama2.c checkpoints");
  ModelSource src{model::ModelWeights::open(model_path), nullptr};
  src.tokenizer = model::make_tokenizer(*src.weights.gguf());
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
