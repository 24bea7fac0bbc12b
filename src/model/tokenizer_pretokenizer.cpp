#include "model/tokenizer_pretokenizer.hpp"

#include "model/tokenizer_unicode.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::model {

namespace {

constexpr uint32_t kOutside = 0xFFFFFFFF;  // "code point" read past the end of a fragment

// What the patterns need to know about one code point; `inside` is false past the fragment's
// end, where every class test fails (so lookaheads see end-of-input there).
struct CharClass {
  bool inside = false;
  UnicodeCategory category = UnicodeCategory::Undefined;
  bool space = false;
  bool letter() const { return inside && category == UnicodeCategory::Letter; }
  bool number() const { return inside && category == UnicodeCategory::Number; }
  bool whitespace() const { return inside && space; }
  bool other() const { return inside && !space && !letter() && !number(); }  // [^\s\p{L}\p{N}]
};

// The code points of the whole text with their classes, computed once.
struct ClassifiedText {
  std::vector<uint32_t> cps;
  std::vector<CharClass> classes;
  explicit ClassifiedText(std::string_view utf8) : cps(utf8_to_codepoints(utf8)) {
    classes.resize(cps.size());
    for (size_t i = 0; i < cps.size(); ++i)
      classes[i] = CharClass{true, unicode_category(cps[i]), unicode_is_whitespace(cps[i])};
  }
};

// Cuts one fragment [begin, end) into consecutive pieces, appending their lengths to `out`.
class Cutter {
 public:
  Cutter(const ClassifiedText& t, size_t begin, size_t end, std::vector<size_t>& out)
      : t_(t), end_(end), last_(begin), out_(out) {}
  uint32_t cp(size_t p) const { return p < end_ ? t_.cps[p] : kOutside; }
  CharClass at(size_t p) const { return p < end_ ? t_.classes[p] : CharClass{}; }
  size_t end() const { return end_; }
  void cut(size_t p) {  // the piece so far ends before p (empty pieces are dropped)
    if (p > last_) out_.push_back(p - last_);
    last_ = p;
  }

 private:
  const ClassifiedText& t_;
  size_t end_, last_;
  std::vector<size_t>& out_;
};

uint32_t ascii_lower(uint32_t c) { return (c >= 'A' && c <= 'Z') ? c + 32 : c; }

// 's 't 'm 'd 're 've 'll at p: returns the match length (0 when none). Only ASCII letters
// matter: no other code point lowercases to one of these.
size_t contraction_length(const Cutter& c, size_t p, bool ignore_case) {
  if (c.cp(p) != '\'' || p + 1 >= c.end()) return 0;
  auto fold = [&](uint32_t x) { return ignore_case ? ascii_lower(x) : x; };
  const uint32_t a = fold(c.cp(p + 1));
  if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
  if (p + 2 >= c.end()) return 0;
  const uint32_t b = fold(c.cp(p + 2));
  if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
  return 0;
}

// Whitespace handling shared by both patterns: \s+(?!\S) leaves the last space of a run for the
// next word when a non-space follows; a run reaching the fragment's end is taken whole (\s+).
bool cut_whitespace_run(Cutter& c, size_t& p) {
  size_t n = 0;
  while (c.at(p + n).whitespace()) ++n;
  if (n == 0) return false;
  p += (n > 1 && p + n < c.end()) ? n - 1 : n;
  c.cut(p);
  return true;
}

// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
void split_gpt2(const ClassifiedText& t, size_t begin, size_t end, std::vector<size_t>& out) {
  Cutter c(t, begin, end, out);
  for (size_t p = begin; p < end;) {
    if (size_t n = contraction_length(c, p, false)) {
      c.cut(p += n);
      continue;
    }
    const bool lead_space = c.cp(p) == ' ';
    const CharClass first = c.at(p + lead_space);  // the class the run is made of
    if (first.letter() || first.number() || first.other()) {
      auto same_run = [&](CharClass x) {
        return first.letter() ? x.letter() : first.number() ? x.number() : x.other();
      };
      p += lead_space;
      while (same_run(c.at(p))) ++p;
      c.cut(p);
      continue;
    }
    if (cut_whitespace_run(c, p)) continue;
    c.cut(++p);  // unreachable for valid classes; kept so that the loop always advances
  }
}

// The LLaMA-3 pattern; max_digits 3 for llama3, 1 for qwen2:
// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,max}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
void split_llama3(const ClassifiedText& t, size_t begin, size_t end, size_t max_digits, std::vector<size_t>& out) {
  Cutter c(t, begin, end, out);
  auto is_newline = [](uint32_t x) { return x == '\r' || x == '\n'; };
  for (size_t p = begin; p < end;) {
    if (size_t n = contraction_length(c, p, true)) {
      c.cut(p += n);
      continue;
    }
    const uint32_t cp = c.cp(p);
    const CharClass here = c.at(p);
    // [^\r\n\p{L}\p{N}]?\p{L}+ : one optional leading non-letter, non-digit, non-newline
    if (!is_newline(cp) && !here.number() && (here.letter() || c.at(p + 1).letter())) {
      ++p;
      while (c.at(p).letter()) ++p;
      c.cut(p);
      continue;
    }
    // \p{N}{1,max}
    if (here.number()) {
      size_t group = 0;
      while (c.at(p).number()) {
        ++p;
        if (++group == max_digits) {
          c.cut(p);
          group = 0;
        }
      }
      c.cut(p);
      continue;
    }
    //  ?[^\s\p{L}\p{N}]+[\r\n]*
    const bool lead_space = cp == ' ';
    const CharClass first = c.at(p + lead_space);
    if (!first.whitespace() && !first.letter() && !first.number()) {  // also a lone space at the end
      p += lead_space;
      while (c.at(p).other()) ++p;
      while (is_newline(c.cp(p))) ++p;
      c.cut(p);
      continue;
    }
    // \s*[\r\n]+ : whitespace up to and including the run's last newline
    size_t n = 0, after_last_newline = 0;
    for (; c.at(p + n).whitespace(); ++n)
      if (is_newline(c.cp(p + n))) after_last_newline = p + n + 1;
    if (after_last_newline) {
      c.cut(p = after_last_newline);
      continue;
    }
    if (cut_whitespace_run(c, p)) continue;
    c.cut(++p);
  }
}

// A regex made of one character class, run as std::regex_iterator would: matches and the gaps
// between them both become pieces. `max_run` 1 matches single characters, 0 maximal runs.
template <typename InClass>
void split_class_runs(const ClassifiedText& t, size_t begin, size_t end, size_t max_run, InClass in_class,
                      std::vector<size_t>& out) {
  Cutter c(t, begin, end, out);
  for (size_t p = begin; p < end;) {
    if (!in_class(t.cps[p], t.classes[p])) {
      ++p;
      continue;
    }
    c.cut(p);
    size_t q = p + 1;
    while (q < end && (max_run == 0 || q - p < max_run) && in_class(t.cps[q], t.classes[q])) ++q;
    c.cut(p = q);
  }
  c.cut(end);
}

// [0-9][0-9][0-9], leftmost matches first.
void split_ascii_digit_triples(const ClassifiedText& t, size_t begin, size_t end, std::vector<size_t>& out) {
  Cutter c(t, begin, end, out);
  auto digit = [&](size_t p) { return p < end && t.cps[p] >= '0' && t.cps[p] <= '9'; };
  for (size_t p = begin; p < end;) {
    if (digit(p) && digit(p + 1) && digit(p + 2)) {
      c.cut(p);
      c.cut(p += 3);
    } else {
      ++p;
    }
  }
  c.cut(end);
}

// [\p{P}\$\+<=>\^~\|] of the default chain.
bool default_punctuation(uint32_t cp, CharClass k) {
  return k.category == UnicodeCategory::Punctuation || cp == '$' || cp == '+' || cp == '<' || cp == '=' ||
         cp == '>' || cp == '^' || cp == '~' || cp == '|';
}
bool is_number(uint32_t, CharClass k) { return k.category == UnicodeCategory::Number; }

// Applies one splitting step to every fragment of the current segmentation.
template <typename Step>
std::vector<size_t> refine(const ClassifiedText& t, const std::vector<size_t>& pieces, Step step) {
  std::vector<size_t> out;
  out.reserve(pieces.size());
  size_t begin = 0;
  for (size_t len : pieces) {
    step(t, begin, begin + len, out);
    begin += len;
  }
  return out;
}

}  // namespace

PreTokenizerSpec pre_tokenizer_for(std::string_view name, std::string_view source) {
  struct Alias {
    std::string_view name;
    PreTokenizerSpec spec;
  };
  using K = PreTokenizerKind;
  static constexpr Alias kAliases[] = {
      {"", {K::Default}},
      {"default", {K::Default}},
      {"gpt-2", {K::Gpt2}},
      {"gpt2", {K::Gpt2}},
      {"phi-2", {K::Gpt2}},
      {"mpt", {K::Gpt2}},
      {"olmo", {K::Gpt2}},
      {"jais", {K::Gpt2}},
      {"gigachat", {K::Gpt2}},
      {"mellum", {K::Gpt2}},
      {"roberta-bpe", {K::Gpt2}},
      {"smollm", {K::Smollm}},
      {"starcoder", {K::Smollm}},
      {"refact", {K::Smollm}},
      {"command-r", {K::Smollm}},
      {"codeshell", {K::Smollm}},
      {"exaone", {K::Smollm}},
      {"minerva-7b", {K::Smollm}},
      {"llama3", {K::Llama3, true, true}},
      {"llama-v3", {K::Llama3, true, true}},
      {"llama-bpe", {K::Llama3, true, true}},
      {"falcon3", {K::Llama3, true, true}},
      {"falcon-h1", {K::Llama3, true, true}},
      {"pixtral", {K::Llama3, true, true}},
      {"dbrx", {K::Llama3}},
      {"smaug-bpe", {K::Llama3}},
      {"qwen2", {K::Qwen2}},
      {"deepseek-r1-qwen", {K::Qwen2}},
      {"stablelm2", {K::Qwen2}},
  };

  for (const auto& a : kAliases)
    if (a.name == name) return a.spec;
  throw Error(std::string(source) + ": tokenizer.ggml.pre '" + std::string(name) +
              "' is not a supported pre-tokenizer (supported: default, gpt-2, smollm, llama-bpe, qwen2 and "
              "their llama.cpp aliases)");
}

std::vector<std::string> pre_tokenize(std::string_view text, PreTokenizerKind kind) {
  const ClassifiedText t(text);
  std::vector<size_t> pieces;
  if (!t.cps.empty()) pieces.push_back(t.cps.size());

  auto gpt2 = [](const ClassifiedText& x, size_t b, size_t e, std::vector<size_t>& o) { split_gpt2(x, b, e, o); };
  switch (kind) {
    case PreTokenizerKind::Default:
      pieces = refine(t, pieces, [](const ClassifiedText& x, size_t b, size_t e, std::vector<size_t>& o) {
        split_class_runs(x, b, e, 0, default_punctuation, o);
      });
      pieces = refine(t, pieces, gpt2);
      pieces = refine(t, pieces, [](const ClassifiedText& x, size_t b, size_t e, std::vector<size_t>& o) {
        split_class_runs(x, b, e, 0, is_number, o);
      });
      pieces = refine(t, pieces, split_ascii_digit_triples);
      break;
    case PreTokenizerKind::Gpt2:
      pieces = refine(t, pieces, gpt2);
      break;
    case PreTokenizerKind::Smollm:
      pieces = refine(t, pieces, [](const ClassifiedText& x, size_t b, size_t e, std::vector<size_t>& o) {
        split_class_runs(x, b, e, 1, is_number, o);
      });
      pieces = refine(t, pieces, gpt2);
      break;
    case PreTokenizerKind::Llama3:
    case PreTokenizerKind::Qwen2: {
      const size_t max_digits = kind == PreTokenizerKind::Llama3 ? 3 : 1;
      pieces = refine(t, pieces, [max_digits](const ClassifiedText& x, size_t b, size_t e, std::vector<size_t>& o) {
        split_llama3(x, b, e, max_digits, o);
      });
      break;
    }
  }

  std::vector<std::string> words;
  words.reserve(pieces.size());
  size_t begin = 0;
  for (size_t len : pieces) {
    std::string w;
    for (size_t i = begin; i < begin + len; ++i) append_utf8(w, t.cps[i]);
    words.push_back(std::move(w));
    begin += len;
  }
  return words;
}

}  // namespace vkq::model
