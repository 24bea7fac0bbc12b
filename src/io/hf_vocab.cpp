// Mirrors convert_hf_to_gguf.py's vocabulary paths (_set_vocab_sentencepiece, _set_vocab_gpt2 and
// gguf-py's SpecialVocab) for the tokenizers of the architectures vkquant runs.
#include "io/hf_vocab.hpp"

#include <fstream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sentencepiece_processor.h>
#include <string>
#include <vector>

#include "io/gguf_values.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::io {

namespace {

using nlohmann::json;
using model::GgufValueType;

enum TokenType : int32_t { kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6 };

// Pre-tokenizer regexes of tokenizer.json, by the name llama.cpp gives the family.
const std::map<std::string, std::string> kSplitRegexNames = {
    {R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)",
     "llama-bpe"},
    {R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)",
     "qwen2"},
};

// convert_hf_to_gguf.py's does_token_look_special.
bool looks_special(const std::string& t) {
  auto starts = [&](const char* p) { return t.rfind(p, 0) == 0; };
  auto ends = [&](const char* s) {
    const std::string e(s);
    return t.size() >= e.size() && t.compare(t.size() - e.size(), e.size(), e) == 0;
  };
  return t == "<pad>" || t == "<mask>" || t == "<2mass>" || t == "[@BOS@]" || (starts("<|") && ends("|>")) ||
         (starts("<\xEF\xBD\x9C") && ends("\xEF\xBD\x9C>")) || (starts("<unused") && ends(">"));
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) s.replace(at, from.size(), to);
  return s;
}

// The llama.cpp name of a byte-level BPE pre-tokenizer, recognised by its structure and regex
// (llama.cpp hashes a tokenization instead, which only knows published vocabularies).
std::string bpe_pre_name(const json& pre, const std::string& file) {
  auto type_of = [](const json& j) { return j.is_object() && j.contains("type") ? j["type"].get<std::string>() : ""; };
  std::vector<json> steps;
  if (type_of(pre) == "Sequence" && pre.contains("pretokenizers")) steps = pre["pretokenizers"].get<std::vector<json>>();
  else if (!pre.is_null()) steps = {pre};
  auto byte_level_regex = [&](const json& j) { return type_of(j) == "ByteLevel" && j.value("use_regex", true); };
  if (steps.size() == 1 && byte_level_regex(steps[0])) return "gpt-2";
  if (steps.size() == 2 && type_of(steps[0]) == "Digits" && steps[0].value("individual_digits", false) &&
      byte_level_regex(steps[1]))
    return "smollm";
  if (steps.size() == 2 && type_of(steps[0]) == "Split" && type_of(steps[1]) == "ByteLevel" &&
      steps[0].contains("pattern") && steps[0]["pattern"].contains("Regex")) {
    const auto it = kSplitRegexNames.find(steps[0]["pattern"]["Regex"].get<std::string>());
    if (it != kSplitRegexNames.end()) return it->second;
  }
  throw Error(file + ": the pre-tokenizer is not one vkquant recognises (the byte-level BPE families llama-bpe, "
                     "qwen2, gpt-2 and smollm); convert this model with llama.cpp's convert_hf_to_gguf.py");
}

// gguf-py's SpecialVocab: special token ids, add_*_token flags and the chat template.
class SpecialVocab {
 public:
  SpecialVocab(const model::HfCheckpoint& ckpt, const json* tokenizer, std::optional<uint32_t> n_vocab)
      : n_vocab_(n_vocab) {
    if (ckpt.has_file("tokenizer_config.json")) config_ = model::read_json_file(ckpt.file("tokenizer_config.json"));
    if (!config_.is_object()) config_ = json();
    if (tokenizer) {
      added_ = tokenizer->value("added_tokens", json::array());
      from_post_processor(*tokenizer);
    }
    if (!config_.is_null()) from_tokenizer_config(ckpt);
    const json& cfg = ckpt.config();
    for (const auto& typ : types_)
      if (auto it = cfg.find(typ + "_token_id"); it != cfg.end()) set_id(typ, *it);
  }

  void add_to(HfMetadata& md) const {
    static const std::map<std::string, std::string> id_keys = {
        {"bos", "bos_token_id"},       {"eos", "eos_token_id"},     {"unk", "unknown_token_id"},
        {"sep", "seperator_token_id"}, {"pad", "padding_token_id"}, {"mask", "mask_token_id"},
        {"eot", "eot_token_id"},       {"eom", "eom_token_id"}};
    for (const auto& [typ, id] : ids_)
      if (auto it = id_keys.find(typ); it != id_keys.end()) md.set("tokenizer.ggml." + it->second, gguf_u32(id));
    for (const auto& [typ, on] : add_)
      if (typ == "bos" || typ == "eos" || typ == "sep") md.set("tokenizer.ggml.add_" + typ + "_token", gguf_bool(on));
    if (chat_template_) md.set("tokenizer.chat_template", gguf_string(*chat_template_));
  }

 private:
  void set_id(const std::string& typ, const json& id) {
    if (!id.is_number_integer()) return;
    const int64_t v = id.get<int64_t>();
    if (v < 0) throw Error("special token " + typ + " has the negative id " + std::to_string(v));
    if (n_vocab_ && v >= int64_t(*n_vocab_)) return;  // out of range: llama.cpp skips it with a warning
    for (const auto& [t, existing] : ids_)
      if (t == typ) return;
    ids_.emplace_back(typ, uint32_t(v));
  }
  void set_add(const std::string& typ, bool on, bool only_if_unset) {
    for (auto& [t, v] : add_)
      if (t == typ) {
        if (!only_if_unset) v = on;
        return;
      }
    add_.emplace_back(typ, on);
  }
  json config_token(const std::string& typ) const {
    return config_.is_object() && config_.contains(typ + "_token") ? config_[typ + "_token"] : json();
  }
  static bool truthy(const json& j) {
    return !(j.is_null() || (j.is_string() && j.get<std::string>().empty()) || (j.is_boolean() && !j.get<bool>()));
  }

  void from_post_processor(const json& tokenizer) {
    json bos = config_token("bos"), cls = config_token("cls"), eos = config_token("eos"), sep = config_token("sep");
    const bool have_config = config_.is_object() && !config_.empty();
    if (!truthy(bos) && truthy(cls) && have_config) config_["bos_token"] = bos = cls;
    if (!truthy(eos) && truthy(sep) && have_config) config_["eos_token"] = eos = sep;
    const json pp = tokenizer.value("post_processor", json());
    if (!pp.is_object()) return;
    const json procs = pp.contains("processors") ? pp["processors"] : json::array({pp});
    for (const auto& proc : procs) {
      const std::string type = proc.value("type", "");
      if (type == "ByteLevel") {
        set_add("bos", false, true);
        set_add("eos", false, true);
      } else if (type == "TemplateProcessing") {
        const json single = proc.value("single", json::array());
        auto special_id = [](const json& entry) {
          return entry.contains("SpecialToken") ? entry["SpecialToken"].value("id", json()) : json();
        };
        json first, last;
        if (single.size() > 1) {
          first = special_id(single.front());
          if (truthy(first)) {
            if (!have_config) bos = first;
            else if (first != bos && first != cls) {
              if (!truthy(bos)) config_["bos_token"] = bos = first;
              if (!truthy(cls)) config_["cls_token"] = cls = first;
            }
            set_add("bos", first == bos || first == cls, false);
          }
          last = special_id(single.back());
          if (truthy(last)) {
            if (!have_config) eos = last;
            else if (last != eos) config_["eos_token"] = eos = last;
            set_add("eos", last == eos, false);
          }
        }
        json pair = proc.value("pair", json::array());
        if (!pair.empty()) {
          size_t start = truthy(first) && special_id(pair.front()) == first ? 1 : 0;
          size_t stop = truthy(last) && special_id(pair.back()) == last ? pair.size() - 1 : pair.size();
          if (start < stop && stop - start >= 2) {
            auto seq_id = [](const json& e) { return e.contains("Sequence") ? e["Sequence"].value("id", "") : ""; };
            const bool ab = seq_id(pair[start]) == "A" && seq_id(pair[stop - 1]) == "B";
            if (ab && stop - start > 2) {
              bool add_sep = false;
              const json mid0 = special_id(pair[start + 1]);
              if (truthy(mid0) && (mid0 == sep || mid0 == eos) && !truthy(last)) add_sep = true;
              if (stop - start - 2 == 2) {
                const json mid1 = special_id(pair[start + 2]);
                if (truthy(mid1) && (mid1 == sep || mid1 == eos)) add_sep = true;
              }
              set_add("sep", add_sep, false);
              if (add_sep && !truthy(sep) && have_config) config_["sep_token"] = eos;
            }
          }
        }
      }
    }
  }

  void from_tokenizer_config(const model::HfCheckpoint& ckpt) {
    json tmpl = config_.value("chat_template", json());
    if (tmpl.is_null()) {
      if (ckpt.has_file("chat_template.jinja")) {
        std::ifstream in(ckpt.file("chat_template.jinja"), std::ios::binary);
        tmpl = std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      } else if (ckpt.has_file("chat_template.json")) {
        tmpl = model::read_json_file(ckpt.file("chat_template.json")).value("chat_template", json());
      }
    }
    if (tmpl.is_string()) chat_template_ = tmpl.get<std::string>();
    if (tmpl.is_array())  // named templates: the default one is the chat template
      for (const auto& t : tmpl)
        if (t.is_object() && t.value("name", "") == "default" && t.contains("template") && t["template"].is_string())
          chat_template_ = t["template"].get<std::string>();
    for (const auto& typ : types_) {
      if (auto it = config_.find("add_" + typ + "_token"); it != config_.end() && it->is_boolean())
        set_add(typ, it->get<bool>(), true);
      const json entry = config_token(typ);
      std::string content;
      if (entry.is_string()) content = entry.get<std::string>();
      else if (entry.is_object() && entry.contains("content") && entry["content"].is_string())
        content = entry["content"].get<std::string>();
      else continue;
      for (const auto& tok : added_)
        if (tok.value("content", "") == content) {
          set_id(typ, tok.value("id", json()));
          break;
        }
    }
  }

  std::optional<uint32_t> n_vocab_;
  json config_;
  json added_ = json::array();
  std::vector<std::string> types_ = {"bos", "eos", "unk", "sep", "pad", "cls", "mask"};
  std::vector<std::pair<std::string, uint32_t>> ids_;
  std::vector<std::pair<std::string, bool>> add_;
  std::optional<std::string> chat_template_;
};

// Phi3MiniModel.set_vocab's handling of added tokens (it does not use the generic rules).
void add_phi3_added_tokens(const model::HfCheckpoint& ckpt, std::vector<std::string>& tokens,
                           std::vector<float>& scores, std::vector<int32_t>& types) {
  auto apply = [&](uint64_t id, const json& data) {
    if (id >= tokens.size() || !data.contains("content") || !data["content"].is_string()) return;
    tokens[id] = data["content"].get<std::string>();
    scores[id] = -1000.0f;
    types[id] = data.value("special", false) ? kControl : kUserDefined;
  };
  if (ckpt.has_file("tokenizer_config.json")) {
    const json tc = model::read_json_file(ckpt.file("tokenizer_config.json"));
    if (tc.is_object() && tc.contains("added_tokens_decoder") && tc["added_tokens_decoder"].is_object())
      for (auto& [key, data] : tc["added_tokens_decoder"].items()) apply(std::stoull(key), data);
  }
  if (ckpt.has_file("tokenizer.json")) {
    const json tok = model::read_json_file(ckpt.file("tokenizer.json"));
    for (const auto& a : tok.value("added_tokens", json::array()))
      if (a.contains("id") && a["id"].is_number_unsigned()) apply(a["id"].get<uint64_t>(), a);
  }
}

void add_sentencepiece_vocab(const model::HfCheckpoint& ckpt, uint32_t vocab_size, const HfVocabRules& rules,
                             HfMetadata& md) {
  const std::string path = ckpt.file("tokenizer.model");
  sentencepiece::SentencePieceProcessor sp;
  if (const auto status = sp.Load(path); !status.ok())
    throw Error(path + ": not a SentencePiece model (" + status.ToString() + ")");
  const uint32_t n_sp = uint32_t(sp.GetPieceSize());
  const uint32_t n = vocab_size ? vocab_size : n_sp;
  std::vector<std::string> tokens(n);
  std::vector<float> scores(n, -10000.0f);
  std::vector<int32_t> types(n, kUnused);
  for (uint32_t i = 0; i < n; ++i) tokens[i] = "[PAD" + std::to_string(i) + "]";
  for (uint32_t id = 0; id < n_sp && id < n; ++id) {
    tokens[id] = sp.IdToPiece(int(id));
    scores[id] = sp.GetScore(int(id));
    types[id] = sp.IsUnknown(int(id)) ? kUnknown
                : sp.IsControl(int(id)) ? kControl
                : sp.IsUnused(int(id)) ? kUnused
                : sp.IsByte(int(id)) ? kByte
                                        : kNormal;
  }
  if (ckpt.has_file("added_tokens.json")) {
    const json added = model::read_json_file(ckpt.file("added_tokens.json"));
    for (auto& [text, id] : added.items()) {
      if (!id.is_number_unsigned() || id.get<uint64_t>() >= n) continue;
      tokens[id.get<uint32_t>()] = text;
      scores[id.get<uint32_t>()] = -1000.0f;
      types[id.get<uint32_t>()] = kUserDefined;
    }
  }
  if (rules.phi3) {
    add_phi3_added_tokens(ckpt, tokens, scores, types);
  } else if (ckpt.has_file("tokenizer_config.json")) {
    const json tc = model::read_json_file(ckpt.file("tokenizer_config.json"));
    if (tc.is_object() && tc.contains("added_tokens_decoder") && tc["added_tokens_decoder"].is_object())
      for (auto& [key, data] : tc["added_tokens_decoder"].items()) {
        const uint64_t id = std::stoull(key);
        if (id >= n || !data.contains("content") || !data["content"].is_string()) continue;
        std::string text = data["content"].get<std::string>();
        if (data.value("special", false) || looks_special(text)) {
          types[id] = kControl;
        } else {
          text = replace_all(text, "\xE2\x96\x81", " ");  // user-defined spaces pre-normalised
          types[id] = kUserDefined;
        }
        scores[id] = -1000.0f;
        tokens[id] = text;
      }
  }
  md.set("tokenizer.ggml.model", gguf_string("llama"));
  md.set("tokenizer.ggml.pre", gguf_string("default"));
  md.set("tokenizer.ggml.tokens", gguf_array(GgufValueType::STRING, tokens));
  md.set("tokenizer.ggml.scores", gguf_array(GgufValueType::FLOAT32, scores));
  md.set("tokenizer.ggml.token_type", gguf_array(GgufValueType::INT32, types));
  SpecialVocab(ckpt, nullptr, uint32_t(tokens.size())).add_to(md);
}

void add_bpe_vocab(const model::HfCheckpoint& ckpt, uint32_t vocab_size, HfMetadata& md) {
  const std::string path = ckpt.file("tokenizer.json");
  if (!ckpt.has_file("tokenizer.json"))
    throw Error(ckpt.folder() + ": no tokenizer.model or tokenizer.json, so the model's vocabulary is unknown");
  const json tok = model::read_json_file(path);
  if (!tok.is_object() || !tok.contains("model") || !tok["model"].is_object())
    throw Error(path + ": no tokenizer model");
  const json& m = tok["model"];
  if (m.value("type", "") != "BPE" || !m.contains("vocab") || !m["vocab"].is_object())
    throw Error(path + ": the tokenizer model is '" + m.value("type", std::string("?")) +
                "', not the byte-level BPE vkquant converts");
  const std::string pre = bpe_pre_name(tok.value("pre_tokenizer", json()), path);

  std::map<uint64_t, std::string> by_id;
  for (auto& [text, id] : m["vocab"].items())
    if (id.is_number_unsigned()) by_id[id.get<uint64_t>()] = text;
  std::map<uint64_t, json> added;
  for (const auto& a : tok.value("added_tokens", json::array()))
    if (a.contains("id") && a["id"].is_number_unsigned() && a.contains("content") && a["content"].is_string()) {
      by_id[a["id"].get<uint64_t>()] = a["content"].get<std::string>();
      added[a["id"].get<uint64_t>()] = a;
    }
  if (by_id.empty()) throw Error(path + ": the vocabulary is empty");
  const uint64_t n = vocab_size ? vocab_size : by_id.rbegin()->first + 1;
  if (by_id.rbegin()->first >= n)
    throw Error(path + ": token id " + std::to_string(by_id.rbegin()->first) + " is outside config.json's vocab_size " +
                std::to_string(n));
  std::vector<std::string> tokens(n);
  std::vector<int32_t> types(n, kUnused);
  for (uint64_t i = 0; i < n; ++i) {
    auto it = by_id.find(i);
    if (it == by_id.end()) {
      tokens[i] = "[PAD" + std::to_string(i) + "]";
      continue;
    }
    tokens[i] = it->second;
    if (auto a = added.find(i); a != added.end()) {
      if (a->second.value("special", false) || looks_special(tokens[i])) {
        types[i] = kControl;
      } else {
        tokens[i] = replace_all(tokens[i], "\xE2\x96\x81", " ");
        types[i] = kUserDefined;
      }
    } else {
      types[i] = kNormal;
    }
  }
  std::vector<std::string> merges;
  for (const auto& mg : m.value("merges", json::array())) {
    if (mg.is_string()) {
      merges.push_back(mg.get<std::string>());
    } else if (mg.is_array() && mg.size() == 2 && mg[0].is_string() && mg[1].is_string()) {
      // the pair format allows spaces inside a part: llama.cpp stores them as U+0120
      merges.push_back(replace_all(mg[0].get<std::string>(), " ", "\xC4\xA0") + " " +
                       replace_all(mg[1].get<std::string>(), " ", "\xC4\xA0"));
    } else {
      throw Error(path + ": a merge is neither \"a b\" nor [\"a\", \"b\"]");
    }
  }
  if (merges.empty()) throw Error(path + ": the BPE model has no merges (llama.cpp cannot load such a vocabulary)");
  md.set("tokenizer.ggml.model", gguf_string("gpt2"));
  md.set("tokenizer.ggml.pre", gguf_string(pre));
  md.set("tokenizer.ggml.tokens", gguf_array(GgufValueType::STRING, tokens));
  md.set("tokenizer.ggml.token_type", gguf_array(GgufValueType::INT32, types));
  md.set("tokenizer.ggml.merges", gguf_array(GgufValueType::STRING, merges));
  SpecialVocab(ckpt, &tok, std::nullopt).add_to(md);
}

}  // namespace

void add_hf_vocab(const model::HfCheckpoint& ckpt, uint32_t vocab_size, const HfVocabRules& rules, HfMetadata& md) {
  if (rules.phi3) {
    json tc;
    if (ckpt.has_file("tokenizer_config.json")) tc = model::read_json_file(ckpt.file("tokenizer_config.json"));
    if (tc.is_object() && tc.value("tokenizer_class", "") == "GPT2Tokenizer") return add_bpe_vocab(ckpt, vocab_size, md);
    if (!ckpt.has_file("tokenizer.model"))
      throw Error(ckpt.file("tokenizer.model") + ": missing (a Phi-3 checkpoint's vocabulary is a SentencePiece model)");
  }
  if (ckpt.has_file("tokenizer.model")) {
    add_sentencepiece_vocab(ckpt, vocab_size, rules, md);
    if (rules.spm_no_space_prefix) md.set("tokenizer.ggml.add_space_prefix", gguf_bool(false));
    return;
  }
  add_bpe_vocab(ckpt, vocab_size, md);
}

}  // namespace vkq::io
