// Calibration sequences from real text with the real stories260K tokenizer: the documented
// protocol (windows, BOS, seeded choice), determinism, the context cap, shortfalls, the errors
// for empty/missing/too-short text, and disjoint text ranges for calibration vs evaluation.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>

#include "calibrate/calibration_data.hpp"
#include "model/gguf.hpp"
#include "model/gguf_test_bytes.hpp"
#include "model/tokenizer.hpp"
#include "support/test_seed.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::calibrate {
namespace {

template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

const model::Tokenizer& tokenizer() {
  static const std::unique_ptr<model::Tokenizer> tok =
      model::make_tokenizer(model::GgufFile::open(test::data_path("tinystories-260k/stories260K.gguf")));
  return *tok;
}

const std::string& val_text() {
  static const std::string text = read_calibration_text(test::data_path("tinystories-valid/tinystories_val.txt"));
  return text;
}

// The first ~40 KB (whole lines) keeps tokenization quick; the full file is used once below.
std::string_view head() { return split_text(val_text(), FractionRange{0.0, 0.05}); }

TEST(CalibrationData, FollowsTheDocumentedProtocol) {
  CalibrationOptions o;
  o.n_seqs = 6;
  o.seq_len = 64;
  o.seed = 3;
  const CalibrationSet set = make_calibration_set(head(), tokenizer(), o, 512, "head");
  const std::vector<int32_t> tokens = tokenizer().encode(head(), false);
  ASSERT_EQ(set.seq_len, 64u);
  EXPECT_EQ(set.n_text_tokens, tokens.size());
  EXPECT_EQ(set.n_windows, tokens.size() / 63);
  ASSERT_GT(set.n_windows, 6u);
  EXPECT_EQ(set.windows, choose_windows(set.n_windows, 6, 3));
  EXPECT_TRUE(std::is_sorted(set.windows.begin(), set.windows.end()));
  EXPECT_TRUE(set.notes.empty());
  ASSERT_EQ(set.sequences.size(), 6u);
  for (size_t i = 0; i < 6; ++i) {
    const auto& s = set.sequences[i];
    ASSERT_EQ(s.size(), 64u);
    EXPECT_EQ(s[0], tokenizer().bos());
    EXPECT_TRUE(std::equal(s.begin() + 1, s.end(), tokens.begin() + std::ptrdiff_t(set.windows[i] * 63)));
  }
}

// llama-imatrix's chunking (tools/imatrix compute_imatrix): the text less one trailing newline, encoded
// with the model's BOS, cut into chunks of seq_len tokens with BOS written over each chunk's first.
TEST(CalibrationData, LlamaChunksAreLlamaImatrixsChunks) {
  CalibrationOptions o;
  o.n_seqs = 5;
  o.seq_len = 48;
  o.seed = 99;  // unused by this protocol
  o.llama_chunks = true;
  const std::string text = std::string(head()) + "\n";
  const CalibrationSet set = make_calibration_set(text, tokenizer(), o, 512, "head");
  const std::vector<int32_t> ids = tokenizer().encode(std::string_view(text).substr(0, text.size() - 1), true);
  ASSERT_TRUE(tokenizer().add_bos_by_default());
  ASSERT_EQ(set.sequences.size(), 5u);
  EXPECT_EQ(set.n_windows, ids.size() / 48);
  EXPECT_EQ(set.windows, (std::vector<size_t>{0, 1, 2, 3, 4}));
  for (size_t c = 0; c < 5; ++c) {
    SCOPED_TRACE(c);
    std::vector<int32_t> want(ids.begin() + long(c * 48), ids.begin() + long((c + 1) * 48));
    want[0] = tokenizer().bos();
    EXPECT_EQ(set.sequences[c], want);
  }
  // The seed does not matter; too short a text is an error naming the 2 x seq_len rule.
  o.seed = 1;
  EXPECT_EQ(make_calibration_set(text, tokenizer(), o, 512, "head").sequences, set.sequences);
  o.seq_len = 512;
  EXPECT_NE(error_of([&] { make_calibration_set("Once upon a time.", tokenizer(), o, 512, "tiny"); }).find("needs at least 2 x 512"),
            std::string::npos);
}

TEST(CalibrationData, DeterministicAndTheSeedChangesTheChoice) {
  CalibrationOptions o;
  o.n_seqs = 4;
  o.seq_len = 32;
  const CalibrationSet a = make_calibration_set(head(), tokenizer(), o, 0, "head");
  const CalibrationSet b = make_calibration_set(head(), tokenizer(), o, 0, "head");
  EXPECT_EQ(a.windows, b.windows);
  EXPECT_EQ(a.sequences, b.sequences);
  o.seed = 1;
  const CalibrationSet c = make_calibration_set(head(), tokenizer(), o, 0, "head");
  EXPECT_NE(a.windows, c.windows);
  EXPECT_NE(a.sequences, c.sequences);
}

TEST(CalibrationData, SequenceLengthIsCappedAtTheContext) {
  CalibrationOptions o;
  o.n_seqs = 2;
  o.seq_len = 2048;
  const CalibrationSet set = make_calibration_set(head(), tokenizer(), o, 512, "head");
  EXPECT_EQ(set.seq_len, 512u);
  for (const auto& s : set.sequences) EXPECT_EQ(s.size(), 512u);
  ASSERT_EQ(set.notes.size(), 1u);
  EXPECT_EQ(set.notes[0], "sequence length 2048 capped at the model's context length 512");
  o.seq_len = 100;  // below the cap: unchanged, no note
  EXPECT_TRUE(make_calibration_set(head(), tokenizer(), o, 512, "head").notes.empty());
}

TEST(CalibrationData, FewerWindowsThanRequestedTakesAllAndSaysSo) {
  CalibrationOptions o;
  o.n_seqs = 100000;
  o.seq_len = 256;
  const CalibrationSet set = make_calibration_set(head(), tokenizer(), o, 0, "head");
  EXPECT_EQ(set.sequences.size(), set.n_windows);
  for (size_t i = 0; i < set.windows.size(); ++i) EXPECT_EQ(set.windows[i], i);
  ASSERT_EQ(set.notes.size(), 1u);
  EXPECT_NE(set.notes[0].find("using all of them instead of the 100000 requested"), std::string::npos) << set.notes[0];
}

TEST(CalibrationData, WholeFileFromDisk) {
  CalibrationOptions o;
  o.n_seqs = 8;
  o.seq_len = 512;
  const std::string path = test::data_path("tinystories-valid/tinystories_val.txt");
  const CalibrationSet set = load_calibration_set(path, tokenizer(), o, 2048);
  EXPECT_EQ(set.sequences.size(), 8u);
  EXPECT_GT(set.n_windows, 100u);
  EXPECT_TRUE(set.notes.empty());
}

TEST(CalibrationData, EmptyMissingAndTooShortTextAreErrors) {
  CalibrationOptions o;
  EXPECT_EQ(error_of([&] { make_calibration_set("", tokenizer(), o, 0, "a.txt"); }), "calibration text a.txt is empty");
  EXPECT_EQ(error_of([&] { make_calibration_set(" \n\t\r\n ", tokenizer(), o, 0, "a.txt"); }),
            "calibration text a.txt is empty");
  o.range = FractionRange{0.5, 1.0};  // a one-line text: the second half is empty
  EXPECT_EQ(error_of([&] { make_calibration_set("Once upon a time.", tokenizer(), o, 0, "a.txt"); }),
            "calibration text a.txt (range 0.5:1) is empty");

  test::TempDir dir;
  const std::string blank = dir.file("blank.txt");
  test::write_file(blank, {' ', '\n', ' '});
  EXPECT_EQ(error_of([&] { load_calibration_set(blank, tokenizer(), CalibrationOptions{}, 0); }),
            "calibration text " + blank + " is empty");
  const std::string missing = dir.file("missing.txt");
  EXPECT_EQ(error_of([&] { load_calibration_set(missing, tokenizer(), CalibrationOptions{}, 0); }),
            "cannot open calibration text " + missing);

  o = CalibrationOptions{};
  o.seq_len = 512;
  const std::string msg = error_of([&] { make_calibration_set("Once upon a time.", tokenizer(), o, 0, "a.txt"); });
  EXPECT_NE(msg.find("fewer than one sequence of 511 text tokens"), std::string::npos) << msg;
  o.seq_len = 1;
  EXPECT_NE(error_of([&] { make_calibration_set("Once upon a time.", tokenizer(), o, 0, "a.txt"); }).find("at least 2"),
            std::string::npos);
  o.seq_len = 16;
  o.n_seqs = 0;
  EXPECT_NE(error_of([&] { make_calibration_set("Once upon a time.", tokenizer(), o, 0, "a.txt"); }).find("at least 1"),
            std::string::npos);
}

TEST(CalibrationData, DisjointRangesForCalibrationAndEvaluation) {
  const std::string_view text = head();
  const std::string_view first = split_text(text, parse_fraction_range("0:0.5"));
  const std::string_view second = split_text(text, parse_fraction_range("0.5:1"));
  EXPECT_EQ(std::string(first) + std::string(second), std::string(text));  // disjoint and covering
  ASSERT_FALSE(first.empty());
  ASSERT_FALSE(second.empty());
  EXPECT_EQ(first.back(), '\n');  // cut at a line end
  EXPECT_NEAR(double(first.size()) / double(text.size()), 0.5, 0.05);

  CalibrationOptions o;
  o.n_seqs = 3;
  o.seq_len = 48;
  o.range = parse_fraction_range("0.5:1");
  const CalibrationSet set = make_calibration_set(text, tokenizer(), o, 0, "head");
  const std::vector<int32_t> tokens = tokenizer().encode(second, false);
  EXPECT_EQ(set.n_text_tokens, tokens.size());
  for (size_t i = 0; i < set.sequences.size(); ++i)
    EXPECT_TRUE(std::equal(set.sequences[i].begin() + 1, set.sequences[i].end(),
                           tokens.begin() + std::ptrdiff_t(set.windows[i] * 47)));
}

TEST(FractionRange, Parses) {
  auto r = parse_fraction_range("0:0.5");
  EXPECT_EQ(r.begin, 0.0);
  EXPECT_EQ(r.end, 0.5);
  r = parse_fraction_range(":0.25");
  EXPECT_EQ(r.begin, 0.0);
  EXPECT_EQ(r.end, 0.25);
  r = parse_fraction_range("0.75:");
  EXPECT_EQ(r.begin, 0.75);
  EXPECT_EQ(r.end, 1.0);
  EXPECT_EQ(format_fraction_range(parse_fraction_range("0.5:1")), "0.5:1");
  for (const char* bad : {"0.5", "1:0", "0.5:0.5", "a:b", "0:2", "-0.1:1", "0:0.5:1", "0:nan", "0x:1"}) {
    const std::string msg = error_of([bad] { parse_fraction_range(bad); });
    EXPECT_NE(msg.find("calibration range '" + std::string(bad) + "'"), std::string::npos) << msg;
  }
}

TEST(FractionRange, SplitsWithoutCuttingLinesOrCharacters) {
  const std::string text = "ab\nçd\n\nxyz";  // ç is two bytes
  for (double f : {0.1, 0.2, 0.3, 0.45, 0.6, 0.8}) {
    const std::string_view a = split_text(text, FractionRange{0, f});
    const std::string_view b = split_text(text, FractionRange{f, 1});
    EXPECT_EQ(std::string(a) + std::string(b), text) << f;
    EXPECT_TRUE(a.empty() || a.back() == '\n' || a.size() == text.size()) << f;
  }
  EXPECT_EQ(split_text("no newline here", FractionRange{0, 0.5}), "no newline here");
  EXPECT_EQ(split_text("no newline here", FractionRange{0.5, 1}), "");
}

TEST(WindowChoice, SplitMix64AndFisherYates) {
  SplitMix64 g(0);
  EXPECT_EQ(g.next(), 0xe220a8397b1dcdafull);  // the published first output of SplitMix64 for seed 0
  SplitMix64 u(7);
  for (int i = 0; i < 1000; ++i) EXPECT_LT(u.uniform(3), 3u);
  EXPECT_EQ(u.uniform(1), 0u);

  const std::vector<size_t> c = choose_windows(1000, 50, 11);
  ASSERT_EQ(c.size(), 50u);
  EXPECT_TRUE(std::is_sorted(c.begin(), c.end()));
  EXPECT_EQ(std::adjacent_find(c.begin(), c.end()), c.end());  // distinct
  EXPECT_LT(c.back(), 1000u);
  EXPECT_EQ(choose_windows(5, 9, 11), (std::vector<size_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(choose_windows(1000, 50, 11), c);
}

}  // namespace
}  // namespace vkq::calibrate
