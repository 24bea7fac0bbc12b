// Calibration text -> token sequences (ALGORITHMS.md §5 "Calibration"), and disjoint text ranges so
// that calibration and evaluation can use different parts of one file.
//
// Protocol (deterministic: the same file, tokenizer and options give the same sequences):
//  1. Read the file as raw bytes (UTF-8 expected, used as given). A missing/unreadable file is a
//     vkq::Error naming it.
//  2. Keep the byte range options.range (default 0:1, see split_text). Text that is empty or only
//     whitespace is a vkq::Error "calibration text FILE is empty".
//  3. Tokenize the whole kept text once, without BOS (Tokenizer::encode(text, false)).
//  4. L = min(options.seq_len, context cap). Cut the token stream into non-overlapping windows of
//     L − 1 tokens (the last, partial window is dropped), window w = tokens [w(L−1), (w+1)(L−1)).
//  5. Choose min(n_seqs, n_windows) windows: a partial Fisher–Yates shuffle of 0..n_windows−1 driven
//     by SplitMix64(seed) (for i = 0..k−1: j = i + uniform(n_windows − i), swap(idx[i], idx[j]);
//     uniform(b) draws SplitMix64 outputs, rejects those ≥ 2^64 − (2^64 mod b), returns x mod b),
//     then sort the k chosen indices ascending so the order is stable. Fewer windows than n_seqs:
//     all are taken and the shortfall is reported in `notes`.
//  6. Each sequence is BOS followed by its window (L tokens in all). A vocabulary without BOS gets
//     windows of L text tokens instead, noted in `notes`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace vkq::model {
class Tokenizer;
}

namespace vkq::calibrate {

// A part of a text given as fractions of its byte length, e.g. "0:0.5" (--calib-range).
struct FractionRange {
  double begin = 0.0;
  double end = 1.0;
};

// Parses "A:B" with 0 ≤ A < B ≤ 1; an empty side means 0 (left) or 1 (right): ":0.5", "0.5:".
// vkq::Error quoting the text for anything else.
FractionRange parse_fraction_range(std::string_view text);
std::string format_fraction_range(const FractionRange& range);  // "0.5:1"

// The bytes of `text` in `range`. Each boundary f·size moves forward to just after the next '\n'
// (or to the end), so no line and no UTF-8 character is cut, and ranges sharing an endpoint
// ("0:0.5" and "0.5:1") are disjoint and together cover the text.
std::string_view split_text(std::string_view text, const FractionRange& range);

struct CalibrationOptions {
  size_t n_seqs = 128;    // --calib-seqs
  size_t seq_len = 2048;  // --calib-len, tokens per sequence including BOS (capped, see below)
  uint64_t seed = 0;      // --seed: which windows are chosen
  FractionRange range;    // --calib-range: the part of the text to use
  // --calib-protocol llama: instead of steps 3–6, llama-imatrix's chunks (tools/imatrix): the kept text
  // less one trailing newline (its -f drops it), encoded with the model's add_bos choice; at least
  // 2 × seq_len tokens; the first min(n_seqs, tokens / seq_len) chunks of seq_len tokens, each with BOS
  // written over its first token when the model adds BOS. The seed is not used.
  bool llama_chunks = false;
};

struct CalibrationSet {
  std::vector<std::vector<int32_t>> sequences;  // each seq_len tokens: BOS + window
  size_t seq_len = 0;                           // after the cap
  size_t n_text_tokens = 0;                     // tokens in the kept text
  size_t n_windows = 0;                         // windows available
  std::vector<size_t> windows;                  // chosen window indices, ascending
  std::vector<std::string> notes;               // cap applied, shortfall, no BOS
};

// The whole file's bytes; vkq::Error naming `path` when it cannot be read.
std::string read_calibration_text(const std::string& path);

// Steps 2–6 on text already in memory. `context_cap` is the model's context length (0 = no cap);
// `source` names the text in errors and notes. vkq::Error for empty text, n_seqs = 0, a length
// below 2, or text too short for a single window.
CalibrationSet make_calibration_set(std::string_view text, const model::Tokenizer& tokenizer,
                                    const CalibrationOptions& options, size_t context_cap, const std::string& source);

// read_calibration_text + make_calibration_set.
CalibrationSet load_calibration_set(const std::string& path, const model::Tokenizer& tokenizer,
                                    const CalibrationOptions& options, size_t context_cap);

// SplitMix64 (Steele, Lea & Flood 2014), the documented generator of step 5.
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t next();
  uint64_t uniform(uint64_t bound);  // in [0, bound), bound > 0, unbiased by rejection

 private:
  uint64_t state_;
};

// Step 5 on its own: k of n indices, ascending.
std::vector<size_t> choose_windows(size_t n_windows, size_t k, uint64_t seed);

}  // namespace vkq::calibrate
