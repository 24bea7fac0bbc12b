#include "calibrate/calibration_data.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <numeric>
#include <sstream>

#include "model/tokenizer.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::calibrate {
namespace {

[[noreturn]] void bad_range(std::string_view text, const std::string& why) {
  throw Error("calibration range '" + std::string(text) + "': " + why +
              " (expected A:B with 0 <= A < B <= 1, e.g. 0:0.5)");
}

double parse_fraction(std::string_view whole, std::string_view part, double if_empty) {
  if (part.empty()) return if_empty;
  double v = 0;
  const auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), v);
  if (ec != std::errc() || end != part.data() + part.size() || !std::isfinite(v))
    bad_range(whole, "'" + std::string(part) + "' is not a number");
  if (v < 0 || v > 1) bad_range(whole, "'" + std::string(part) + "' is outside [0, 1]");
  return v;
}

bool is_blank(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
  });
}

// Boundary of split_text: f·size moved forward to just after the next '\n', or to the end.
size_t snap_boundary(std::string_view text, double f) {
  if (f <= 0) return 0;
  if (f >= 1) return text.size();
  const size_t p = std::min(text.size(), size_t(std::floor(f * double(text.size()))));
  if (p == 0) return 0;
  if (text[p - 1] == '\n') return p;  // already at a line start
  const size_t nl = text.find('\n', p);
  return nl == std::string_view::npos ? text.size() : nl + 1;
}

}  // namespace

FractionRange parse_fraction_range(std::string_view text) {
  const size_t colon = text.find(':');
  if (colon == std::string_view::npos || text.find(':', colon + 1) != std::string_view::npos)
    bad_range(text, "needs exactly one ':'");
  FractionRange r;
  r.begin = parse_fraction(text, text.substr(0, colon), 0.0);
  r.end = parse_fraction(text, text.substr(colon + 1), 1.0);
  if (!(r.begin < r.end)) bad_range(text, "the start must be below the end");
  return r;
}

std::string format_fraction_range(const FractionRange& range) {
  std::ostringstream s;
  s << range.begin << ':' << range.end;
  return s.str();
}

std::string_view split_text(std::string_view text, const FractionRange& range) {
  const size_t a = snap_boundary(text, range.begin);
  const size_t b = snap_boundary(text, range.end);
  return a >= b ? std::string_view() : text.substr(a, b - a);
}

uint64_t SplitMix64::next() {
  uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

uint64_t SplitMix64::uniform(uint64_t bound) {
  if (bound == 0) throw Error("SplitMix64::uniform: bound must be positive");
  // Values at or above `limit` would make x mod bound favour small results; draw again.
  const uint64_t limit = UINT64_MAX - (UINT64_MAX % bound + 1) % bound;
  uint64_t x = next();
  while (x > limit) x = next();
  return x % bound;
}

std::vector<size_t> choose_windows(size_t n_windows, size_t k, uint64_t seed) {
  k = std::min(k, n_windows);
  std::vector<size_t> idx(n_windows);
  std::iota(idx.begin(), idx.end(), size_t(0));
  SplitMix64 rng(seed);
  for (size_t i = 0; i < k; ++i) std::swap(idx[i], idx[i + size_t(rng.uniform(n_windows - i))]);
  idx.resize(k);
  std::sort(idx.begin(), idx.end());
  return idx;
}

std::string read_calibration_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot open calibration text " + path);
  std::ostringstream s;
  s << in.rdbuf();
  if (in.bad()) throw Error("cannot read calibration text " + path);
  return s.str();
}

namespace {

CalibrationSet llama_chunks(std::string_view part, const model::Tokenizer& tokenizer, const CalibrationOptions& options,
                            CalibrationSet set, const std::string& what) {
  if (!part.empty() && part.back() == '\n') part.remove_suffix(1);
  const bool add_bos = tokenizer.add_bos_by_default();
  const std::vector<int32_t> tokens = tokenizer.encode(part, add_bos);
  const size_t len = set.seq_len;
  set.n_text_tokens = tokens.size();
  set.n_windows = tokens.size() / len;
  if (tokens.size() < 2 * len)
    throw Error(what + " has " + std::to_string(tokens.size()) + " tokens; llama-imatrix's chunking needs at least 2 x " +
                std::to_string(len) + " (use a longer text or a smaller --calib-len)");
  const size_t n = std::min(options.n_seqs, set.n_windows);
  if (n < options.n_seqs)
    set.notes.push_back(what + " has " + std::to_string(set.n_windows) + " chunks of " + std::to_string(len) +
                        " tokens; using all of them instead of the " + std::to_string(options.n_seqs) + " requested");
  for (size_t c = 0; c < n; ++c) {
    std::vector<int32_t> seq(tokens.begin() + std::ptrdiff_t(c * len), tokens.begin() + std::ptrdiff_t((c + 1) * len));
    if (add_bos) seq[0] = tokenizer.bos();  // written over, not inserted, as llama-imatrix does
    set.windows.push_back(c);
    set.sequences.push_back(std::move(seq));
  }
  return set;
}

}  // namespace

CalibrationSet make_calibration_set(std::string_view text, const model::Tokenizer& tokenizer,
                                    const CalibrationOptions& options, size_t context_cap, const std::string& source) {
  const bool whole = options.range.begin <= 0 && options.range.end >= 1;
  const std::string what =
      "calibration text " + source + (whole ? "" : " (range " + format_fraction_range(options.range) + ")");
  const std::string_view part = split_text(text, options.range);
  if (is_blank(part)) throw Error(what + " is empty");
  if (options.n_seqs == 0) throw Error(what + ": the number of calibration sequences must be at least 1");

  CalibrationSet set;
  set.seq_len = options.seq_len;
  if (context_cap > 0 && set.seq_len > context_cap) {
    set.notes.push_back("sequence length " + std::to_string(options.seq_len) + " capped at the model's context length " +
                        std::to_string(context_cap));
    set.seq_len = context_cap;
  }
  if (set.seq_len < 2) throw Error(what + ": the sequence length must be at least 2 tokens (BOS and one text token)");

  if (options.llama_chunks) return llama_chunks(part, tokenizer, options, std::move(set), what);

  const int32_t bos = tokenizer.bos();
  // Without BOS every position of the sequence holds a text token.
  const size_t window = bos >= 0 ? set.seq_len - 1 : set.seq_len;
  if (bos < 0) set.notes.push_back("the vocabulary has no BOS token: each sequence is " + std::to_string(window) + " text tokens");

  const std::vector<int32_t> tokens = tokenizer.encode(part, false);
  set.n_text_tokens = tokens.size();
  set.n_windows = tokens.size() / window;
  if (set.n_windows == 0)
    throw Error(what + " has " + std::to_string(tokens.size()) + " tokens, fewer than one sequence of " +
                std::to_string(window) + " text tokens; use a longer text or a smaller --calib-len");
  if (set.n_windows < options.n_seqs)
    set.notes.push_back(what + " has " + std::to_string(set.n_windows) + " windows of " + std::to_string(window) +
                        " tokens; using all of them instead of the " + std::to_string(options.n_seqs) + " requested");

  set.windows = choose_windows(set.n_windows, options.n_seqs, options.seed);
  set.sequences.reserve(set.windows.size());
  for (size_t w : set.windows) {
    std::vector<int32_t> seq;
    seq.reserve(set.seq_len);
    if (bos >= 0) seq.push_back(bos);
    seq.insert(seq.end(), tokens.begin() + std::ptrdiff_t(w * window), tokens.begin() + std::ptrdiff_t((w + 1) * window));
    set.sequences.push_back(std::move(seq));
  }
  return set;
}

CalibrationSet load_calibration_set(const std::string& path, const model::Tokenizer& tokenizer,
                                    const CalibrationOptions& options, size_t context_cap) {
  return make_calibration_set(read_calibration_text(path), tokenizer, options, context_cap, path);
}

}  // namespace vkq::calibrate
