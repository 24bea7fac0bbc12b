// GGUF reader on the real files in shared/data and on hand-built files that use every value
// type, nested arrays, version 2 and a custom alignment.
#include <gtest/gtest.h>

#include <cstring>

#include "model/gguf.hpp"
#include "model/gguf_test_bytes.hpp"
#include "support/test_seed.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::model {
namespace {

using VT = GgufValueType;

template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(GgufReader, ReadsStories260K) {
  const std::string path = test::data_path("tinystories-260k/stories260K.gguf");
  const GgufFile f = GgufFile::open(path);
  EXPECT_EQ(f.path(), path);
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.alignment(), 32u);
  EXPECT_EQ(f.file_size(), 1185376u);
  EXPECT_EQ(f.data_offset() % 32, 0u);
  EXPECT_EQ(f.metadata().size(), 19u);
  EXPECT_EQ(f.metadata().front().first, "tokenizer.ggml.tokens");  // file order is kept
  EXPECT_EQ(f.get_string("general.architecture"), "llama");
  EXPECT_EQ(f.get_u64("llama.embedding_length"), 64u);
  EXPECT_EQ(f.get_u64("llama.feed_forward_length"), 172u);
  EXPECT_EQ(f.get_u64("llama.block_count"), 5u);
  EXPECT_EQ(f.get_u64("llama.attention.head_count"), 8u);
  EXPECT_EQ(f.get_u64("llama.attention.head_count_kv"), 4u);
  EXPECT_EQ(f.get_u64("llama.context_length"), 2048u);
  EXPECT_EQ(f.get_f64("llama.attention.layer_norm_rms_epsilon"), double(1e-5f));
  EXPECT_EQ(f.get("llama.block_count").type, VT::UINT32);
  const auto tokens = f.get_string_array("tokenizer.ggml.tokens");
  ASSERT_EQ(tokens.size(), 512u);
  EXPECT_EQ(tokens[3], "<0x00>");
  EXPECT_EQ(f.get_f64_array("tokenizer.ggml.scores").size(), 512u);
  EXPECT_EQ(f.get_i64_array("tokenizer.ggml.token_type").size(), 512u);
  EXPECT_EQ(f.get("tokenizer.ggml.scores").array_type, VT::FLOAT32);
  EXPECT_EQ(f.get_u64("tokenizer.ggml.bos_token_id"), 1u);

  ASSERT_EQ(f.tensors().size(), 48u);
  const GgufTensorInfo& k = f.tensor("blk.0.attn_k.weight");
  EXPECT_EQ(k.dims, (std::vector<uint64_t>{64, 32}));
  EXPECT_EQ(k.row_length(), 64u);
  EXPECT_EQ(k.n_rows(), 32u);
  EXPECT_EQ(k.n_elements(), 2048u);
  EXPECT_EQ(k.n_bytes(), 8192u);
  EXPECT_EQ(k.type, GgmlType::F32);
  EXPECT_EQ(f.find_tensor("nope"), nullptr);
  const GgufTensorInfo& emb = f.tensor("token_embd.weight");
  const std::vector<float> v = f.read_f32(emb);
  ASSERT_EQ(v.size(), 64u * 512u);
  EXPECT_EQ(std::memcmp(v.data(), f.tensor_data(emb), emb.n_bytes()), 0);
  // output.weight is a copy of the embedding in this file (README).
  EXPECT_EQ(f.read_f32(f.tensor("output.weight")), v);
}

TEST(GgufReader, ErrorsNameFileKeyAndProblem) {
  const std::string path = test::data_path("tinystories-260k/stories260K.gguf");
  const GgufFile f = GgufFile::open(path);
  std::string msg = error_of([&] { f.get_string("llama.block_count"); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("'llama.block_count' holds UINT32, not a STRING"), std::string::npos) << msg;
  msg = error_of([&] { f.get("no.such.key"); });
  EXPECT_NE(msg.find(path + ": metadata key 'no.such.key' is missing"), std::string::npos) << msg;
  msg = error_of([&] { f.tensor("no.such.tensor"); });
  EXPECT_NE(msg.find("tensor 'no.such.tensor' is missing"), std::string::npos) << msg;
  msg = error_of([&] { f.get_string_array("tokenizer.ggml.scores"); });
  EXPECT_NE(msg.find("holds FLOAT32, not a STRING"), std::string::npos) << msg;
  EXPECT_EQ(f.find("no.such.key"), nullptr);
}

TEST(GgufReader, ReadsVocabOnlyFileWithoutDataSection) {
  const GgufFile f = GgufFile::open(test::data_path("llama2-tokenizer/ggml-vocab-llama-spm.gguf"));
  EXPECT_EQ(f.tensors().size(), 0u);
  EXPECT_EQ(f.metadata().size(), 22u);
  EXPECT_EQ(f.get_string_array("tokenizer.ggml.tokens").size(), 32000u);
  EXPECT_TRUE(f.get("tokenizer.ggml.add_bos_token").as_bool("tokenizer.ggml.add_bos_token"));
  EXPECT_FALSE(f.get("tokenizer.ggml.add_eos_token").as_bool("tokenizer.ggml.add_eos_token"));
  EXPECT_EQ(f.get_string("tokenizer.ggml.pre"), "default");
}

void expect_sample_values(const GgufFile& f) {
  EXPECT_EQ(f.metadata().size(), 15u);
  EXPECT_EQ(f.get("t.u8").type, VT::UINT8);
  EXPECT_EQ(f.get_u64("t.u8"), 200u);
  EXPECT_EQ(f.get("t.i8").as_i64("t.i8"), -100);
  EXPECT_EQ(f.get_u64("t.u16"), 60000u);
  EXPECT_EQ(f.get("t.i16").as_i64("t.i16"), -30000);
  EXPECT_EQ(f.get_u64("t.u32"), 4000000000u);
  EXPECT_EQ(f.get("t.i32").as_i64("t.i32"), -2000000000);
  EXPECT_EQ(f.get_u64("t.u64"), 18000000000000000000ull);
  EXPECT_EQ(f.get("t.i64").as_i64("t.i64"), -9000000000000000000ll);
  EXPECT_EQ(f.get_f64("t.f32"), double(0.1f));
  EXPECT_EQ(f.get_f64("t.f64"), 0.1);
  EXPECT_TRUE(f.get("t.bool").as_bool("t.bool"));
  EXPECT_EQ(f.get_string("t.string"), "héllo");
  EXPECT_EQ(f.get_string_array("t.strings"), (std::vector<std::string>{"a", "", "ccc"}));
  EXPECT_EQ(f.get_i64_array("t.i32s"), (std::vector<int64_t>{1, -2, 3, -4}));
  const GgufValue& nested = f.get("t.nested");
  EXPECT_EQ(nested.array_type, VT::ARRAY);
  const auto& outer = nested.as_array("t.nested");
  ASSERT_EQ(outer.size(), 2u);
  EXPECT_EQ(outer[0].array_type, VT::UINT16);
  EXPECT_EQ(outer[0].as_array("x")[1].as_u64("x"), 8u);
  EXPECT_EQ(outer[1].array_type, VT::FLOAT32);
  EXPECT_EQ(outer[1].as_array("x")[0].as_f64("x"), 2.5);
  // Conversions that would lose information are refused.
  EXPECT_THROW(f.get("t.i8").as_u64("t.i8"), Error);
  EXPECT_THROW(f.get("t.u64").as_i64("t.u64"), Error);
  EXPECT_THROW(f.get("t.string").as_f64("t.string"), Error);

  ASSERT_EQ(f.tensors().size(), 3u);
  const auto a = f.read_f32(f.tensor("a"));
  ASSERT_EQ(a.size(), 16u);
  for (int i = 0; i < 16; ++i) EXPECT_EQ(a[i], float(i) - 4.5f);
  const auto b = f.read_f32(f.tensor("b"));
  ASSERT_EQ(b.size(), 64u);
  for (int i = 0; i < 64; ++i) EXPECT_EQ(b[i], 0.5f * float(i % 32 - 16 + i / 32)) << i;
  const auto c = f.read_f32(f.tensor("c"));
  for (int i = 0; i < 16; ++i) EXPECT_EQ(c[i], 1.0f + float(i) / 1024.0f);
}

TEST(GgufReader, ReadsEveryValueTypeFromFileAndMemory) {
  test::TempDir dir;
  const std::vector<uint8_t> bytes = test::sample_gguf();
  test::write_file(dir.file("sample.gguf"), bytes);
  const GgufFile f = GgufFile::open(dir.file("sample.gguf"));
  EXPECT_EQ(f.version(), 3u);
  expect_sample_values(f);
  const GgufFile m = GgufFile::from_memory(bytes, "in-memory sample");
  EXPECT_EQ(m.path(), "in-memory sample");
  expect_sample_values(m);
}

TEST(GgufReader, ReadsVersion2) {
  const GgufFile f = GgufFile::from_memory(test::sample_gguf(nullptr, 2), "v2 sample");
  EXPECT_EQ(f.version(), 2u);
  expect_sample_values(f);
}

// An info that does not describe this file's data (a forged or foreign one) is refused.
TEST(GgufReader, TensorDataChecksForeignInfos) {
  const GgufFile f = GgufFile::from_memory(test::sample_gguf(), "sample");
  GgufTensorInfo forged = f.tensor("c");
  forged.offset = 1 << 20;
  const std::string msg = error_of([&] { f.tensor_data(forged); });
  EXPECT_NE(msg.find("sample: tensor 'c' data lies outside the file"), std::string::npos) << msg;
}

TEST(GgufReader, MovedFileStaysValid) {
  GgufFile f = GgufFile::from_memory(test::sample_gguf(), "sample");
  GgufFile g = std::move(f);
  EXPECT_EQ(g.get_u64("t.u8"), 200u);
  EXPECT_EQ(g.read_f32(g.tensor("a"))[1], -3.5f);
}

// general.alignment = 64 places the data section and every offset on 64-byte boundaries.
TEST(GgufReader, HonoursGeneralAlignment) {
  test::GgufBytes g;
  g.header(3, 2, 1);
  g.key("general.alignment", VT::UINT32);
  g.pod<uint32_t>(64);
  g.tensor_info("x", {4}, GgmlType::F32, 0);
  g.tensor_info("y", {32}, GgmlType::Q4_0, 64);
  g.pad_to(64);
  const size_t data_start = g.size();
  for (int i = 0; i < 4; ++i) g.pod<float>(float(i));
  g.pad_to(64);
  g.pod<uint16_t>(0x3C00);
  for (int j = 0; j < 16; ++j) g.pod<uint8_t>(0x9A);  // low 0xA -> 2, high 0x9 -> 1
  const GgufFile f = GgufFile::from_memory(g.bytes, "aligned");
  EXPECT_EQ(f.alignment(), 64u);
  EXPECT_EQ(f.data_offset(), data_start);
  EXPECT_EQ(f.data_offset() % 64, 0u);
  EXPECT_EQ(f.read_f32(f.tensor("x"))[3], 3.0f);
  const auto y = f.read_f32(f.tensor("y"));
  EXPECT_EQ(y[0], 2.0f);
  EXPECT_EQ(y[16], 1.0f);
}

}  // namespace
}  // namespace vkq::model
