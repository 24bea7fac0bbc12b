// Corrupted GGUF files: each must fail with a vkq::Error whose message names the file and the
// problem — never a crash, an out-of-bounds read or another exception type. The variants are
// written to a temp dir and opened through the real mmap path.
#include <gtest/gtest.h>

#include <random>

#include "model/gguf.hpp"
#include "model/gguf_test_bytes.hpp"
#include "support/test_seed.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::model {
namespace {

using VT = GgufValueType;

class GgufBadInput : public testing::Test {
 protected:
  // Writes `bytes` as a file and expects open() (and read_f32 of every tensor) to throw an Error
  // naming the file and containing `problem`.
  void expect_rejected(const std::vector<uint8_t>& bytes, const std::string& problem) {
    const std::string path = dir_.file("bad_" + std::to_string(counter_++) + ".gguf");
    test::write_file(path, bytes);
    const std::string msg = open_and_read_all(path);
    EXPECT_NE(msg.find(path + ": "), std::string::npos) << "message does not name the file: " << msg;
    EXPECT_NE(msg.find(problem), std::string::npos) << "expected '" << problem << "' in: " << msg;
  }

  // Returns the error message, or "(no error)".
  static std::string open_and_read_all(const std::string& path) {
    try {
      const GgufFile f = GgufFile::open(path);
      for (const auto& t : f.tensors()) f.read_f32(t);
    } catch (const Error& e) {
      return e.what();
    }
    return "(no error)";
  }

  std::vector<uint8_t> sample(test::SampleLayout* layout = nullptr) { return test::sample_gguf(layout); }

  test::TempDir dir_;
  int counter_ = 0;
};

TEST_F(GgufBadInput, SampleIsValid) {
  const std::string path = dir_.file("good.gguf");
  test::write_file(path, sample());
  EXPECT_EQ(open_and_read_all(path), "(no error)");
}

// Every strict prefix of the sample is invalid: the last tensor ends exactly at the end.
TEST_F(GgufBadInput, TruncatedAtEveryOffset) {
  test::SampleLayout l;
  const std::vector<uint8_t> full = sample(&l);
  for (size_t n = 0; n < full.size(); ++n) {
    SCOPED_TRACE("cut at " + std::to_string(n));
    // Cut inside the header: a read runs out or the counts cannot fit ("is the file truncated?");
    // cut after the tensor infos: some tensor's data lies past the end.
    expect_rejected(std::vector<uint8_t>(full.begin(), full.begin() + long(n)),
                    n < l.infos_end ? "truncated" : "extends past the end of the");
  }
}

TEST_F(GgufBadInput, EmptyFile) { expect_rejected({}, "truncated: the GGUF magic needs 4 bytes but only 0 remain"); }

TEST_F(GgufBadInput, WrongMagic) {
  auto b = sample();
  b[3] = 'G';
  expect_rejected(b, "not a GGUF file: the magic bytes are 47 47 55 47 ('GGUG'), expected 'GGUF'");
}

TEST_F(GgufBadInput, UnsupportedVersions) {
  auto b = sample();
  test::GgufBytes g{b};
  g.put_at<uint32_t>(4, 1);
  expect_rejected(g.bytes, "GGUF version 1 is not supported");
  g.put_at<uint32_t>(4, 99);
  expect_rejected(g.bytes, "unsupported GGUF version 99");
  g.put_at<uint32_t>(4, 0);
  expect_rejected(g.bytes, "unsupported GGUF version 0");
  g.put_at<uint32_t>(4, 0x03000000);
  expect_rejected(g.bytes, "big-endian GGUF files are not supported");
}

TEST_F(GgufBadInput, AbsurdCounts) {
  test::SampleLayout l;
  test::GgufBytes g{sample(&l)};
  g.put_at<uint64_t>(l.n_tensors_field, uint64_t(1) << 40);
  expect_rejected(g.bytes, "absurd tensor count 1099511627776");
  g.bytes = sample();
  g.put_at<uint64_t>(l.n_kv_field, ~uint64_t(0));
  expect_rejected(g.bytes, "absurd metadata key-value count 18446744073709551615");
  g.bytes = sample();
  g.put_at<uint64_t>(l.n_kv_field, (g.size() - 24) / 13);  // plausible alone, impossible with the tensors
  expect_rejected(g.bytes, "absurd counts: ");
  g.bytes = sample();
  g.put_at<uint64_t>(l.nested_count, uint64_t(1) << 50);
  expect_rejected(g.bytes, "metadata key 't.nested' claims 1125899906842624 FLOAT32 elements");
}

TEST_F(GgufBadInput, StringLengthPastEnd) {
  test::SampleLayout l;
  test::GgufBytes g{sample(&l)};
  g.put_at<uint64_t>(l.first_key_length, uint64_t(1) << 60);
  expect_rejected(g.bytes, "string length 1152921504606846976 of metadata key #0 runs past the end of the file");
}

TEST_F(GgufBadInput, BadTensorShapes) {
  test::SampleLayout l;
  test::GgufBytes g{sample(&l)};
  g.put_at<uint32_t>(l.first_n_dims, 7);
  expect_rejected(g.bytes, "tensor 'a' has n_dims = 7, more than the 4 GGUF allows");
  g.bytes = sample();
  g.put_at<uint64_t>(l.first_dim0 + 8, 0);
  expect_rejected(g.bytes, "tensor 'a' has dimension 1 equal to 0");
  g.bytes = sample();
  g.put_at<uint64_t>(l.first_dim0 + 8, uint64_t(1) << 62);
  expect_rejected(g.bytes, "tensor 'a' dimension 1 = 4611686018427387904 makes the element count overflow 64 bits");
  g.bytes = sample();
  g.put_at<uint64_t>(l.first_dim0, uint64_t(1) << 62);  // 2^62 x 2 elements overflow int64
  expect_rejected(g.bytes, "tensor 'a' dimension 1 = 2 makes the element count overflow 64 bits");
  g.bytes = sample();
  g.put_at<uint64_t>(l.first_dim0, uint64_t(1) << 40);  // a valid count whose data is not in the file
  expect_rejected(g.bytes, "tensor 'a' data (8796093022208 bytes at offset 0");
  test::GgufBytes h;  // 2^62 F32 elements: a valid count, but 2^64 bytes
  h.header(3, 1, 0);
  h.tensor_info("huge", {uint64_t(1) << 62}, GgmlType::F32, 0);
  expect_rejected(h.bytes, "tensor 'huge' is larger than 2^64 bytes");
}

TEST_F(GgufBadInput, RowNotWholeBlocks) {
  test::GgufBytes g;
  g.header(3, 1, 0);
  g.tensor_info("q", {31, 2}, GgmlType::Q8_0, 0);
  g.pad_to(32);
  g.bytes.resize(g.size() + 68);
  expect_rejected(g.bytes, "tensor 'q' has rows of 31 elements, not a multiple of the Q8_0 block size 32");
}

TEST_F(GgufBadInput, TensorOffsets) {
  test::SampleLayout l;
  test::GgufBytes g{sample(&l)};
  g.put_at<uint64_t>(l.first_offset, 1u << 20);
  expect_rejected(g.bytes, "tensor 'a' data (64 bytes at offset 1048576 of the data section");
  g.bytes = sample();
  g.put_at<uint64_t>(l.first_offset, ~uint64_t(0) - 31);  // aligned, and offset + size wraps
  expect_rejected(g.bytes, "extends past the end of the");
  g.bytes = sample();
  g.put_at<uint64_t>(l.second_offset, 40);
  expect_rejected(g.bytes, "tensor 'b' has data offset 40, not a multiple of the alignment 32");
  g.bytes = sample();
  g.put_at<uint64_t>(l.second_offset, 32);
  expect_rejected(g.bytes, "tensors 'a' (bytes 0..64) and 'b' (from byte 32) overlap in the data section");
}

TEST_F(GgufBadInput, UnknownAndUnreadableTensorTypes) {
  test::SampleLayout l;
  test::GgufBytes g{sample(&l)};
  g.put_at<uint32_t>(l.first_type, 99);
  expect_rejected(g.bytes, "tensor 'a' has unknown ggml type id 99");
  g.put_at<uint32_t>(l.first_type, 4);  // Q4_2, retired by ggml
  expect_rejected(g.bytes, "tensor 'a' has unknown ggml type id 4");
  // An IQ2_XXS tensor opens (its geometry is known) but its data cannot be read.
  test::GgufBytes k;
  k.header(3, 1, 0);
  k.tensor_info("blk.0.ffn_down.weight", {256, 2}, GgmlType::IQ2_XXS, 0);
  k.pad_to(32);
  k.bytes.resize(k.size() + 2 * 66);
  const GgufFile f = GgufFile::from_memory(k.bytes, "k.gguf");
  EXPECT_EQ(f.tensors()[0].n_bytes(), 132u);
  expect_rejected(k.bytes, "tensor 'blk.0.ffn_down.weight' has type IQ2_XXS, which vkquant cannot read");
}

TEST_F(GgufBadInput, DuplicateKeysAndTensorNames) {
  test::GgufBytes g;
  g.header(3, 0, 2);
  g.key("a.b", VT::UINT8);
  g.pod<uint8_t>(1);
  g.key("a.b", VT::UINT8);
  g.pod<uint8_t>(2);
  expect_rejected(g.bytes, "duplicate metadata key 'a.b' (entries #0 and #1)");
  test::GgufBytes t;
  t.header(3, 2, 0);
  t.tensor_info("w", {4}, GgmlType::F32, 0);
  t.tensor_info("w", {4}, GgmlType::F32, 32);
  t.pad_to(32);
  t.bytes.resize(t.size() + 64);
  expect_rejected(t.bytes, "duplicate tensor name 'w' (tensor infos #0 and #1)");
}

TEST_F(GgufBadInput, BadMetadataValues) {
  test::SampleLayout l;
  test::GgufBytes g{sample(&l)};
  g.bytes[l.bool_value] = 2;
  expect_rejected(g.bytes, "metadata key 't.bool' has BOOL byte 2, expected 0 or 1");
  g.bytes = sample();
  g.put_at<uint32_t>(l.first_key_length + 8 + 4, 13);  // the first key "t.u8" is 4 bytes
  expect_rejected(g.bytes, "metadata key 't.u8' has unknown value type 13");

  test::GgufBytes e;  // empty key
  e.header(3, 0, 1);
  e.key("", VT::UINT8);
  e.pod<uint8_t>(0);
  expect_rejected(e.bytes, "metadata key #0 is empty");

  test::GgufBytes a;  // general.alignment must be a UINT32 power of two
  a.header(3, 0, 1);
  a.key("general.alignment", VT::UINT32);
  a.pod<uint32_t>(48);
  expect_rejected(a.bytes, "'general.alignment' is 48, not a power of two");
  test::GgufBytes a2;
  a2.header(3, 0, 1);
  a2.key("general.alignment", VT::UINT64);
  a2.pod<uint64_t>(64);
  expect_rejected(a2.bytes, "'general.alignment' must be UINT32, not UINT64");
}

TEST_F(GgufBadInput, ArraysNestedTooDeep) {
  test::GgufBytes g;
  g.header(3, 0, 1);
  g.key("deep", VT::ARRAY);
  for (int i = 0; i < 100; ++i) g.array_header(VT::ARRAY, 1);
  g.array_header(VT::UINT8, 0);
  expect_rejected(g.bytes, "metadata key 'deep' nests arrays deeper than 16 levels");
}

TEST_F(GgufBadInput, LongTensorName) {
  test::GgufBytes g;
  g.header(3, 1, 0);
  g.tensor_info(std::string(65, 'x'), {4}, GgmlType::F32, 0);
  g.pad_to(32);
  g.bytes.resize(g.size() + 16);
  expect_rejected(g.bytes, "tensor info #0 has a 65-byte name, more than the 64 the spec allows");
}

TEST_F(GgufBadInput, NotARegularFile) {
  const std::string missing = dir_.file("missing.gguf");
  std::string msg = open_and_read_all(missing);
  EXPECT_NE(msg.find(missing + ": cannot open for reading"), std::string::npos) << msg;
  msg = open_and_read_all(dir_.path().string());
  EXPECT_NE(msg.find("not a regular file"), std::string::npos) << msg;
}

// Random byte corruption: whatever the damage, the reader either accepts the file or throws
// vkq::Error — any other outcome (crash, sanitizer report, other exception) fails the test.
TEST_F(GgufBadInput, RandomCorruptionNeverCrashes) {
  const uint64_t seed = test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  const std::vector<uint8_t> good = sample();
  int rejected = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    std::vector<uint8_t> b = good;
    const int flips = 1 + int(rng() % 4);
    for (int k = 0; k < flips; ++k) {
      const size_t at = rng() % b.size();
      b[at] = (rng() % 2) ? uint8_t(rng()) : uint8_t(b[at] ^ (1u << (rng() % 8)));
    }
    if (rng() % 4 == 0) b.resize(rng() % b.size());
    try {
      const GgufFile f = GgufFile::from_memory(std::move(b), "corrupt");
      for (const auto& t : f.tensors()) f.read_f32(t);
      for (const auto& [k, v] : f.metadata()) (void)v.type;
    } catch (const Error& e) {
      ++rejected;
      ASSERT_EQ(std::string(e.what()).rfind("corrupt: ", 0), 0u) << e.what();
    }
  }
  EXPECT_GT(rejected, 100);
}

}  // namespace
}  // namespace vkq::model
