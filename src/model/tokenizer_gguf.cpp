// make_tokenizer(GgufFile): reads the tokenizer.ggml.* keys and applies the defaults and fix-ups
// llama.cpp's vocabulary loader (llama_vocab::impl::load) applies, so that both tokenize alike.
#include <algorithm>
#include <cctype>

#include "model/gguf.hpp"
#include "model/tokenizer.hpp"
#include "model/tokenizer_bpe.hpp"
#include "model/tokenizer_spm.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::model {

namespace {

const std::string kModelKey = "tokenizer.ggml.model";
const std::string kTokensKey = "tokenizer.ggml.tokens";
const std::string kScoresKey = "tokenizer.ggml.scores";
const std::string kTypesKey = "tokenizer.ggml.token_type";
const std::string kMergesKey = "tokenizer.ggml.merges";
const std::string kPreKey = "tokenizer.ggml.pre";

[[noreturn]] void fail(const GgufFile& f, const std::string& problem) { throw Error(f.path() + ": " + problem); }

// Runs a GgufValue accessor, adding the file name its errors lack.
template <typename F>
auto in_file(const GgufFile& f, F&& read) -> decltype(read()) {
  try {
    return read();
  } catch (const Error& e) {
    fail(f, e.what());
  }
}

bool get_bool_or(const GgufFile& f, const std::string& key, bool fallback) {
  const GgufValue* v = f.find(key);
  return v ? in_file(f, [&] { return v->as_bool(key); }) : fallback;
}

// A token id key is used only when it names a token: llama.cpp warns about any other value
// (e.g. the 0xFFFFFFFF some converters write for "none") and keeps its default.
int32_t get_token_id_or(const GgufFile& f, const std::string& key, int32_t fallback, size_t n_vocab) {
  const GgufValue* v = f.find(key);
  if (!v) return fallback;
  const int64_t id = in_file(f, [&] { return v->as_i64(key); });
  return (id >= 0 && uint64_t(id) < n_vocab) ? int32_t(id) : fallback;
}

template <typename T>
void check_parallel(const GgufFile& f, const std::string& key, const std::vector<T>& values, size_t n_vocab) {
  if (values.size() != n_vocab)
    fail(f, key + " has " + std::to_string(values.size()) + " entries but " + kTokensKey + " has " +
                std::to_string(n_vocab));
}

TokenType token_type_from(int64_t v) {
  return (v >= 0 && v <= int64_t(TokenType::Byte)) ? TokenType(v) : TokenType::Undefined;
}

// Sets a token's type by its text, when the vocabulary has it.
void set_type_of(TokenizerVocab& v, std::string_view text, TokenType type) {
  const auto it = std::find(v.pieces.begin(), v.pieces.end(), text);
  if (it != v.pieces.end()) v.types[size_t(it - v.pieces.begin())] = type;
}

bool has_piece(const TokenizerVocab& v, std::string_view text) {
  return std::find(v.pieces.begin(), v.pieces.end(), text) != v.pieces.end();
}

// llama.cpp recognises end-of-turn / fill-in-the-middle tokens by their text and makes them
// control tokens (so plain text no longer matches them unless parse_special), plus a few
// model-specific re-typings. Lists as in ggml-org/llama.cpp@00ad355e, llama_vocab::impl::load.
void apply_llama_cpp_token_fixups(const GgufFile& f, TokenizerVocab& v) {
  using Texts = std::vector<std::string_view>;
  struct Role {
    std::vector<const char*> keys;  // an id given in one of these keys disables the text search
    Texts texts;                    // candidates; one is promoted
  };
  const std::string_view eos_fullwidth = "<\xEF\xBD\x9C" "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>";
  const Role roles[] = {
      {{"tokenizer.ggml.eot_token_id"},
       {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>", "<EOT>", "_<EOT>",
        "[EOT]", eos_fullwidth, "<end_of_utterance>"}},
      {{"tokenizer.ggml.eom_token_id"}, {"<|eom_id|>"}},
      {{"tokenizer.ggml.fim_pre_token_id", "tokenizer.ggml.prefix_token_id"},
       {"<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<\xEF\xBD\x9C" "fim\xE2\x96\x81" "begin\xEF\xBD\x9C>", "<PRE>",
        "\xE2\x96\x81<PRE>", "<|code_prefix|>", "<|prefix|>"}},
      {{"tokenizer.ggml.fim_suf_token_id", "tokenizer.ggml.suffix_token_id"},
       {"<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<\xEF\xBD\x9C" "fim\xE2\x96\x81hole\xEF\xBD\x9C>", "<SUF>",
        "\xE2\x96\x81<SUF>", "<|code_suffix|>", "<|suffix|>"}},
      {{"tokenizer.ggml.fim_mid_token_id", "tokenizer.ggml.middle_token_id"},
       {"<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<\xEF\xBD\x9C" "fim\xE2\x96\x81" "end\xEF\xBD\x9C>", "<MID>",
        "\xE2\x96\x81<MID>", "<|code_middle|>", "<|middle|>"}},
      {{"tokenizer.ggml.fim_pad_token_id"}, {"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"}},
      {{"tokenizer.ggml.fim_rep_token_id"}, {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"}},
      {{"tokenizer.ggml.fim_sep_token_id"}, {"<|file_sep|>"}},
  };
  for (const Role& role : roles) {
    const bool given = std::any_of(role.keys.begin(), role.keys.end(),
                                   [&](const char* key) { return get_token_id_or(f, key, -1, v.pieces.size()) >= 0; });
    if (given) continue;
    // llama.cpp promotes the first candidate its hash map yields; here the lowest id.
    for (size_t id = 0; id < v.pieces.size(); ++id) {
      if (std::find(role.texts.begin(), role.texts.end(), v.pieces[id]) != role.texts.end()) {
        v.types[id] = TokenType::Control;
        break;
      }
    }
  }
  // End-of-generation texts are always promoted.
  const Texts end_of_generation = {"<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>",
                                   "<|calls|>", "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>",
                                   "_<EOT>", "[EOT]", "[EOS]", "<|end_of_text|>", "<end_of_utterance>", "<eos>",
                                   "<turn|>", "<|tool_response>", eos_fullwidth, "[e~["};
  for (std::string_view text : end_of_generation) set_type_of(v, text, TokenType::Control);
  // gpt-oss (harmony) markers are always matched in text.
  for (std::string_view text : {"<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"})
    set_type_of(v, text, TokenType::UserDefined);
  // harmony / solar-open: <|end|> is not an end of generation there, but a user-defined token.
  const bool call = has_piece(v, "<|call|>") || has_piece(v, "<|calls|>");
  if (has_piece(v, "<|end|>") && call && (has_piece(v, "<|return|>") || has_piece(v, "<|flush|>")))
    set_type_of(v, "<|end|>", TokenType::UserDefined);
  // gemma4 / paddleocr: </s> is an ordinary token when <|tool_response> exists.
  if (has_piece(v, "<|tool_response>")) set_type_of(v, "</s>", TokenType::Normal);
}

// llama.cpp's per-model whitespace stripping around special tokens: Phi-3 strips after them.
void apply_model_strip_rules(const GgufFile& f, TokenizerVocab& v) {
  std::string name;
  if (const GgufValue* n = f.find("general.name"); n && n->type == GgufValueType::STRING)
    name = n->as_string("general.name");
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  if (name.find("phi-3") == std::string::npos && name.find("phi3") == std::string::npos) return;
  v.strip.assign(v.pieces.size(), TokenStrip{});
  for (size_t i = 0; i < v.pieces.size(); ++i) {
    const TokenType t = v.types[i];
    if (t == TokenType::Control || t == TokenType::UserDefined || t == TokenType::Unknown) v.strip[i].right = true;
  }
  auto set_right = [&](const char* text, bool on) {
    const auto it = std::find(v.pieces.begin(), v.pieces.end(), text);
    if (it != v.pieces.end()) v.strip[size_t(it - v.pieces.begin())].right = on;
  };
  set_right("</s>", true);
  for (const char* text : {"<unk>", "<s>", "<|endoftext|>"}) set_right(text, false);
}

}  // namespace

std::unique_ptr<Tokenizer> make_tokenizer(const GgufFile& f) {
  const std::string model = f.get_string(kModelKey);
  const bool spm = model == "llama";
  if (!spm && model != "gpt2")
    fail(f, kModelKey + " is '" + model + "'; supported tokenizers are 'llama' (SentencePiece) and 'gpt2' (byte-level BPE)");

  TokenizerVocab v;
  v.source = f.path();
  v.pieces = f.get_string_array(kTokensKey);
  const size_t n = v.pieces.size();
  if (n == 0) fail(f, kTokensKey + " is empty");
  for (size_t i = 0; i < n; ++i)
    if (v.pieces[i].empty()) v.pieces[i] = "[EMPTY_" + std::to_string(i) + "]";  // as llama.cpp renames them

  if (f.find(kScoresKey)) {
    const std::vector<double> scores = f.get_f64_array(kScoresKey);
    check_parallel(f, kScoresKey, scores, n);
    v.scores.assign(scores.begin(), scores.end());
  }
  v.types.assign(n, TokenType::Normal);
  if (f.find(kTypesKey)) {
    const std::vector<int64_t> types = f.get_i64_array(kTypesKey);
    check_parallel(f, kTypesKey, types, n);
    std::transform(types.begin(), types.end(), v.types.begin(), token_type_from);
  }

  // llama.cpp's defaults per model, then the keys.
  int32_t bos = spm ? 1 : 11, eos = spm ? 2 : 11, unk = spm ? 0 : -1;
  if (spm) {
    v.add_bos = true;
    v.add_space_prefix = true;
  } else {
    v.merges = f.get_string_array(kMergesKey);
    v.pre = f.find(kPreKey) ? f.get_string(kPreKey) : "default";
    if (v.pre.empty()) v.pre = "default";
    v.add_bos = pre_tokenizer_for(v.pre, f.path()).bos_by_default;
    v.add_space_prefix = false;
  }
  v.bos = get_token_id_or(f, "tokenizer.ggml.bos_token_id", bos, n);
  v.eos = get_token_id_or(f, "tokenizer.ggml.eos_token_id", eos, n);
  v.unk = get_token_id_or(f, "tokenizer.ggml.unknown_token_id", unk, n);
  for (int32_t* id : {&v.bos, &v.eos, &v.unk})
    if (*id >= int32_t(n)) *id = -1;  // a default the vocabulary is too small for
  v.add_bos = get_bool_or(f, "tokenizer.ggml.add_bos_token", v.add_bos);
  if (spm) v.add_space_prefix = get_bool_or(f, "tokenizer.ggml.add_space_prefix", v.add_space_prefix);

  apply_llama_cpp_token_fixups(f, v);
  apply_model_strip_rules(f, v);

  if (spm) return std::make_unique<SpmTokenizer>(std::move(v));
  return std::make_unique<BpeTokenizer>(std::move(v));
}

}  // namespace vkq::model
