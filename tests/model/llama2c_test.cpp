// llama2.c checkpoint and tokenizer readers: the real stories260K files, an untied-classifier
// variant built from them, and files whose sizes disagree with their headers.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "model/gguf.hpp"
#include "model/gguf_test_bytes.hpp"
#include "model/llama2c.hpp"
#include "support/test_seed.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::model {
namespace {

const std::string kBin = "tinystories-260k/stories260K.bin";

template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(Llama2c, ReadsStories260KConfig) {
  const Llama2cModel m = read_llama2c_checkpoint(test::data_path(kBin));
  const Llama2cConfig& c = m.config;
  EXPECT_EQ(c.dim, 64);
  EXPECT_EQ(c.hidden_dim, 172);
  EXPECT_EQ(c.n_layers, 5);
  EXPECT_EQ(c.n_heads, 8);
  EXPECT_EQ(c.n_kv_heads, 4);
  EXPECT_EQ(c.vocab_size, 512);
  EXPECT_EQ(c.seq_len, 512);
  EXPECT_TRUE(c.shared_classifier);
  EXPECT_EQ(c.head_size(), 8);
  EXPECT_EQ(c.kv_dim(), 32);
  EXPECT_EQ(m.tensors.size(), 3u + 9u * 5u);
  const Llama2cTensor& w2 = m.tensor("blk.4.ffn_down.weight");
  EXPECT_EQ(w2.rows(), 64u);
  EXPECT_EQ(w2.cols(), 172u);
  EXPECT_EQ(m.find("blk.5.attn_q.weight"), nullptr);
  EXPECT_THROW(m.tensor("blk.5.attn_q.weight"), Error);
  EXPECT_EQ(m.tensor("output.weight").data, m.tensor("token_embd.weight").data);
}

// The README: the .bin's tensors are bit-identical to the .gguf's; names, order and shapes match.
TEST(Llama2c, TensorsAreBitIdenticalToTheGguf) {
  const Llama2cModel m = read_llama2c_checkpoint(test::data_path(kBin));
  const GgufFile g = GgufFile::open(test::data_path("tinystories-260k/stories260K.gguf"));
  ASSERT_EQ(m.tensors.size(), g.tensors().size());
  for (size_t i = 0; i < m.tensors.size(); ++i) {
    const Llama2cTensor& t = m.tensors[i];
    const GgufTensorInfo& gt = g.tensors()[i];
    SCOPED_TRACE(t.name);
    EXPECT_EQ(t.name, gt.name);
    EXPECT_EQ(t.dims, gt.dims);
    ASSERT_EQ(t.data.size() * sizeof(float), gt.n_bytes());
    EXPECT_EQ(std::memcmp(t.data.data(), g.tensor_data(gt), gt.n_bytes()), 0);
  }
}

// freq_cis holds cos/sin(pos * 10000^(-2i/head_size)); the README measured a 2.3e-6 match
// (float32 tables computed by numpy/torch), so 1e-5 absolute leaves margin for |x| <= 1.
TEST(Llama2c, FreqCisTablesAreRope) {
  const Llama2cModel m = read_llama2c_checkpoint(test::data_path(kBin));
  const int half = m.config.head_size() / 2;
  ASSERT_EQ(m.freq_cis_real.size(), size_t(m.config.seq_len * half));
  ASSERT_EQ(m.freq_cis_imag.size(), m.freq_cis_real.size());
  for (int pos = 0; pos < m.config.seq_len; pos += 37)
    for (int i = 0; i < half; ++i) {
      const double angle = pos * std::pow(10000.0, -2.0 * i / m.config.head_size());
      EXPECT_NEAR(m.freq_cis_real[size_t(pos * half + i)], std::cos(angle), 1e-5) << pos << "," << i;
      EXPECT_NEAR(m.freq_cis_imag[size_t(pos * half + i)], std::sin(angle), 1e-5) << pos << "," << i;
    }
}

class Llama2cVariants : public testing::Test {
 protected:
  void SetUp() override { original_ = test::read_file(test::data_path(kBin)); }

  std::string write(const std::string& name, const std::vector<uint8_t>& bytes) {
    const std::string path = dir_.file(name);
    test::write_file(path, bytes);
    return path;
  }

  void set_header(std::vector<uint8_t>& b, int field, int32_t v) { std::memcpy(b.data() + 4 * field, &v, 4); }

  std::string error_reading(const std::vector<uint8_t>& bytes) {
    const std::string path = write("variant_" + std::to_string(counter_++) + ".bin", bytes);
    const std::string msg = error_of([&] { read_llama2c_checkpoint(path); });
    EXPECT_NE(msg.find(path + ": "), std::string::npos) << msg;
    return msg;
  }

  std::vector<uint8_t> original_;
  test::TempDir dir_;
  int counter_ = 0;
};

// Negative vocab_size: the classifier follows the freq_cis tables.
TEST_F(Llama2cVariants, UntiedClassifier) {
  std::vector<uint8_t> b = original_;
  set_header(b, 5, -512);
  std::vector<float> cls(512 * 64);
  for (size_t i = 0; i < cls.size(); ++i) cls[i] = float(i) * 0.25f;
  const auto* p = reinterpret_cast<const uint8_t*>(cls.data());
  b.insert(b.end(), p, p + cls.size() * sizeof(float));
  const Llama2cModel m = read_llama2c_checkpoint(write("untied.bin", b));
  EXPECT_FALSE(m.config.shared_classifier);
  EXPECT_EQ(m.config.vocab_size, 512);
  EXPECT_EQ(m.tensor("output.weight").data, cls);
  EXPECT_EQ(m.tensor("output.weight").dims, (std::vector<uint64_t>{64, 512}));
  // Without the classifier bytes, the same header is 131072 bytes short.
  std::vector<uint8_t> short_file = original_;
  set_header(short_file, 5, -512);
  const std::string msg = error_reading(short_file);
  EXPECT_NE(msg.find("file is 1056540 bytes but its header"), std::string::npos) << msg;
  EXPECT_NE(msg.find("separate classifier) needs exactly 1187612 bytes"), std::string::npos) << msg;
}

TEST_F(Llama2cVariants, SizeMustMatchHeaderExactly) {
  std::vector<uint8_t> b = original_;
  b.pop_back();
  std::string msg = error_reading(b);
  EXPECT_NE(msg.find("file is 1056539 bytes but its header (dim=64 hidden_dim=172 n_layers=5"), std::string::npos)
      << msg;
  b = original_;
  b.push_back(0);
  msg = error_reading(b);
  EXPECT_NE(msg.find("needs exactly 1056540 bytes"), std::string::npos) << msg;
  msg = error_reading(std::vector<uint8_t>(original_.begin(), original_.begin() + 20));
  EXPECT_NE(msg.find("truncated: the 7-int32 llama2.c header"), std::string::npos) << msg;
  msg = error_reading({});
  EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;
}

TEST_F(Llama2cVariants, InvalidHeaders) {
  std::vector<uint8_t> b = original_;
  set_header(b, 0, 0);
  EXPECT_NE(error_reading(b).find("invalid llama2.c header (dim=0"), std::string::npos);
  b = original_;
  set_header(b, 3, 7);
  EXPECT_NE(error_reading(b).find("dim 64 is not a multiple of n_heads 7"), std::string::npos);
  b = original_;
  set_header(b, 4, 3);
  EXPECT_NE(error_reading(b).find("n_heads 8 is not a multiple of n_kv_heads 3"), std::string::npos);
  b = original_;
  set_header(b, 5, 0);
  EXPECT_NE(error_reading(b).find("vocab_size nonzero"), std::string::npos);
  b = original_;
  set_header(b, 5, INT32_MIN);
  EXPECT_NE(error_reading(b).find("invalid llama2.c header"), std::string::npos);
  b = original_;
  set_header(b, 0, 1 << 30);  // dim * dim * layers overflows 64 bits
  set_header(b, 2, 1 << 30);
  set_header(b, 3, 1);
  set_header(b, 4, 1);
  EXPECT_NE(error_reading(b).find("overflow 64-bit byte counts"), std::string::npos);
  b = original_;
  set_header(b, 0, 0x616b3432);
  EXPECT_NE(error_reading(b).find("versioned llama2.c export (magic 'ak42')"), std::string::npos);
  b = original_;
  set_header(b, 3, 64);  // head size 1: RoPE pairs impossible
  set_header(b, 4, 64);
  EXPECT_NE(error_reading(b).find("head size 1 is odd"), std::string::npos);
}

TEST(Llama2cVocabFile, ReadsTok512) {
  const Llama2cVocab v = read_llama2c_tokenizer(test::data_path("tinystories-260k/tok512.bin"), 512);
  EXPECT_EQ(v.max_token_length, 7);
  ASSERT_EQ(v.pieces.size(), 512u);
  ASSERT_EQ(v.scores.size(), 512u);
  EXPECT_EQ(v.pieces[0], "<unk>");
  EXPECT_EQ(v.pieces[1], "\n<s>\n");
  EXPECT_EQ(v.pieces[2], "\n</s>\n");
  EXPECT_EQ(v.pieces[3], "<0x00>");
  EXPECT_EQ(v.pieces[258], "<0xFF>");
  // The same pieces as the GGUF's embedded vocab, whose spaces are U+2581.
  const GgufFile g = GgufFile::open(test::data_path("tinystories-260k/stories260K.gguf"));
  const auto gguf_tokens = g.get_string_array("tokenizer.ggml.tokens");
  const auto gguf_scores = g.get_f64_array("tokenizer.ggml.scores");
  for (size_t i = 3; i < 512; ++i) {
    std::string piece = v.pieces[i];
    for (size_t at; (at = piece.find(' ')) != std::string::npos;) piece.replace(at, 1, "\xE2\x96\x81");
    EXPECT_EQ(piece, gguf_tokens[i]) << i;
    EXPECT_EQ(double(v.scores[i]), gguf_scores[i]) << i;
  }
  // Without a vocab size, tokens are read to the end of the file.
  EXPECT_EQ(read_llama2c_tokenizer(test::data_path("tinystories-260k/tok512.bin")).pieces, v.pieces);
}

TEST(Llama2cVocabFile, ReadsLlama2Tokenizer) {
  const Llama2cVocab v = read_llama2c_tokenizer(test::data_path("llama2-tokenizer/tokenizer.bin"), 32000);
  EXPECT_EQ(v.max_token_length, 27);
  EXPECT_EQ(v.pieces.size(), 32000u);
}

TEST(Llama2cVocabFile, RejectsMismatchedAndCorruptFiles) {
  const std::string path = test::data_path("tinystories-260k/tok512.bin");
  std::string msg = error_of([&] { read_llama2c_tokenizer(path, 511); });
  EXPECT_NE(msg.find(path + ": "), std::string::npos) << msg;
  EXPECT_NE(msg.find("bytes follow the 511 tokens"), std::string::npos) << msg;
  msg = error_of([&] { read_llama2c_tokenizer(path, 513); });
  EXPECT_NE(msg.find("truncated: the score of token 512"), std::string::npos) << msg;

  test::TempDir dir;
  std::vector<uint8_t> b = test::read_file(path);
  const int32_t bad_len = 100;  // token 0's length field, past max_token_length 7
  std::memcpy(b.data() + 4 + 4, &bad_len, 4);
  test::write_file(dir.file("bad.bin"), b);
  msg = error_of([&] { read_llama2c_tokenizer(dir.file("bad.bin")); });
  EXPECT_NE(msg.find("token 0 has length 100, outside [0, max_token_length = 7]"), std::string::npos) << msg;
  b = test::read_file(path);
  b.pop_back();
  test::write_file(dir.file("cut.bin"), b);
  msg = error_of([&] { read_llama2c_tokenizer(dir.file("cut.bin")); });
  EXPECT_NE(msg.find("truncated: the bytes of token 511"), std::string::npos) << msg;
}

}  // namespace
}  // namespace vkq::model
