// GgufWriter round trips through the reader: the real stories260K model copied key by key and
// tensor by tensor, packed quantized tensors, every value type, custom alignment, push mode, and
// the errors that must leave no output file behind.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <random>

#include "common/float16.hpp"
#include "io/gguf_writer.hpp"
#include "model/gguf.hpp"
#include "model/gguf_test_bytes.hpp"
#include "support/test_seed.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::io {
namespace {

using model::GgmlType;
using model::GgufFile;
using model::GgufValue;
using VT = model::GgufValueType;
namespace fs = std::filesystem;

template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

// Same type tags and the same values, recursively (floats compared bit for bit).
void expect_same_value(const GgufValue& a, const GgufValue& b, const std::string& key) {
  ASSERT_EQ(a.type, b.type) << key;
  ASSERT_EQ(a.data.index(), b.data.index()) << key;
  if (a.type == VT::ARRAY) {
    ASSERT_EQ(a.array_type, b.array_type) << key;
    const auto& x = a.as_array(key);
    const auto& y = b.as_array(key);
    ASSERT_EQ(x.size(), y.size()) << key;
    for (size_t i = 0; i < x.size(); ++i) expect_same_value(x[i], y[i], key + "[" + std::to_string(i) + "]");
  } else if (const auto* d = std::get_if<double>(&a.data)) {
    const double e = std::get<double>(b.data);
    EXPECT_EQ(std::memcmp(d, &e, sizeof e), 0) << key;
  } else if (const auto* u = std::get_if<uint64_t>(&a.data)) {
    EXPECT_EQ(*u, std::get<uint64_t>(b.data)) << key;
  } else if (const auto* i = std::get_if<int64_t>(&a.data)) {
    EXPECT_EQ(*i, std::get<int64_t>(b.data)) << key;
  } else if (const auto* t = std::get_if<bool>(&a.data)) {
    EXPECT_EQ(*t, std::get<bool>(b.data)) << key;
  } else {
    EXPECT_EQ(std::get<std::string>(a.data), std::get<std::string>(b.data)) << key;
  }
}

void expect_same_metadata(const GgufFile& a, const GgufFile& b) {
  ASSERT_EQ(a.metadata().size(), b.metadata().size());
  for (size_t i = 0; i < a.metadata().size(); ++i) {
    EXPECT_EQ(a.metadata()[i].first, b.metadata()[i].first);
    expect_same_value(a.metadata()[i].second, b.metadata()[i].second, a.metadata()[i].first);
  }
}

TEST(GgufWriter, CopiesStories260KBitForBit) {
  const std::string src_path = test::data_path("tinystories-260k/stories260K.gguf");
  const GgufFile src = GgufFile::open(src_path);
  test::TempDir dir;
  const std::string path = dir.file("copy.gguf");
  {
    GgufWriter w(path);
    w.copy_metadata(src);
    for (const auto& t : src.tensors())
      w.add_tensor(t.name, t.dims, t.type,
                   [&src, &t](TensorSink& sink) { sink.write(src.tensor_data(t), t.n_bytes()); });
    EXPECT_FALSE(fs::exists(path));
    w.write();
  }
  EXPECT_FALSE(fs::exists(path + ".partial"));
  const GgufFile copy = GgufFile::open(path);
  EXPECT_EQ(copy.version(), 3u);
  expect_same_metadata(src, copy);
  ASSERT_EQ(copy.tensors().size(), src.tensors().size());
  for (size_t i = 0; i < src.tensors().size(); ++i) {
    const auto& a = src.tensors()[i];
    const auto& b = copy.tensors()[i];
    SCOPED_TRACE(a.name);
    EXPECT_EQ(a.name, b.name);
    EXPECT_EQ(a.dims, b.dims);
    EXPECT_EQ(a.type, b.type);
    EXPECT_EQ(a.offset, b.offset);
    EXPECT_EQ(std::memcmp(src.tensor_data(a), copy.tensor_data(b), a.n_bytes()), 0);
  }
  // The layout rules are llama.cpp's, so even the whole file comes out identical.
  EXPECT_TRUE(test::read_file(path) == test::read_file(src_path));
}

// Random codes and fp16 scales for one tensor of a legacy quantized type, packed with pack_row.
std::vector<uint8_t> random_packed(GgmlType type, uint64_t rows, uint64_t cols, std::mt19937_64& rng) {
  const bool is_q8 = type == GgmlType::Q8_0, is_q5 = type == GgmlType::Q5_0 || type == GgmlType::Q5_1;
  std::uniform_int_distribution<int> code(is_q8 ? -127 : 0, is_q8 ? 127 : is_q5 ? 31 : 15);
  std::uniform_real_distribution<float> param(-1.0f, 1.0f);
  const uint64_t n = rows * cols;
  std::vector<int32_t> codes(n);
  for (auto& c : codes) c = code(rng);
  std::vector<float> d(n / 32), m(n / 32);
  for (auto& x : d) x = round_to_half(param(rng) * 0.1f);
  for (auto& x : m) x = round_to_half(param(rng));
  std::vector<uint8_t> out(model::ggml_row_size(type, cols) * rows);
  model::pack_row(type, d.data(), m.data(), codes.data(), n, out.data());
  return out;
}

struct Expected {
  std::string name;
  std::vector<uint64_t> dims;
  GgmlType type;
  std::vector<uint8_t> bytes;
};

void expect_tensors(const GgufFile& f, const std::vector<Expected>& want) {
  ASSERT_EQ(f.tensors().size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    const auto& t = f.tensors()[i];
    SCOPED_TRACE(want[i].name);
    EXPECT_EQ(t.name, want[i].name);
    EXPECT_EQ(t.dims, want[i].dims);
    EXPECT_EQ(t.type, want[i].type);
    EXPECT_EQ(t.offset % f.alignment(), 0u);
    ASSERT_EQ(t.n_bytes(), want[i].bytes.size());
    EXPECT_EQ(std::memcmp(f.tensor_data(t), want[i].bytes.data(), t.n_bytes()), 0);
    std::vector<float> decoded(t.n_elements());
    model::dequantize_row(t.type, want[i].bytes.data(), decoded.data(), t.n_elements());
    const std::vector<float> got = f.read_f32(t);
    EXPECT_EQ(std::memcmp(got.data(), decoded.data(), decoded.size() * sizeof(float)), 0);
  }
}

std::vector<Expected> random_quantized_tensors(std::mt19937_64& rng) {
  std::vector<Expected> ts;
  const GgmlType types[] = {GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1};
  for (GgmlType type : types) {
    const std::string name = std::string("blk.0.") + model::ggml_type_name(type) + ".weight";
    ts.push_back({name, {96, 3}, type, random_packed(type, 3, 96, rng)});
  }
  std::vector<float> x = test::random_floats(rng, 40 * 2, -2.f, 2.f);
  std::vector<uint8_t> f16(x.size() * 2);
  model::encode_float_row(GgmlType::F16, x.data(), f16.data(), x.size());
  ts.push_back({"norm.f16", {40, 2}, GgmlType::F16, f16});
  return ts;
}

TEST(GgufWriter, WritesPackedQuantizedTensors) {
  const uint64_t seed = test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  const std::vector<Expected> ts = random_quantized_tensors(rng);
  test::TempDir dir;
  const std::string path = dir.file("quant.gguf");
  {
    GgufWriter w(path);
    w.add_string("general.architecture", "llama");
    w.add_u32("general.quantization_version", 2);
    for (size_t i = 0; i < ts.size(); ++i) {
      if (i % 2 == 0) {
        w.add_tensor(ts[i].name, ts[i].dims, ts[i].type, ts[i].bytes);
      } else {  // streamed row by row, as a quantizer would produce it
        const Expected& e = ts[i];
        w.add_tensor(e.name, e.dims, e.type, [&e](TensorSink& sink) {
          const size_t row = e.bytes.size() / e.dims[1];
          for (size_t r = 0; r < e.dims[1]; ++r) sink.write(e.bytes.data() + r * row, row);
        });
      }
    }
    w.write();
  }
  const GgufFile f = GgufFile::open(path);
  EXPECT_EQ(f.get_string("general.architecture"), "llama");
  expect_tensors(f, ts);
}

TEST(GgufWriter, PushModeAndCustomAlignment) {
  const uint64_t seed = test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  const std::vector<Expected> ts = random_quantized_tensors(rng);
  test::TempDir dir;
  const std::string path = dir.file("pushed.gguf");
  {
    GgufWriter w(path);
    w.add_u32("general.alignment", 64);
    EXPECT_EQ(w.alignment(), 64u);
    for (size_t i = 0; i < ts.size(); ++i) {
      if (i == 2) w.add_tensor(ts[i].name, ts[i].dims, ts[i].type, ts[i].bytes);  // held, written on the way
      else w.add_tensor_info(ts[i].name, ts[i].dims, ts[i].type);
    }
    w.begin();
    EXPECT_THROW(w.add_u8("late.key", 1), Error);
    const std::string msg = error_of([&] { w.write_tensor(ts[1].name, ts[1].bytes.data(), ts[1].bytes.size()); });
    EXPECT_NE(msg.find("tensors must come in declared order; next is '" + ts[0].name + "'"), std::string::npos) << msg;
    for (size_t i = 0; i < ts.size(); ++i)
      if (i != 2) w.write_tensor(ts[i].name, ts[i].bytes.data(), ts[i].bytes.size());
    EXPECT_FALSE(fs::exists(path));
    w.finish();
    EXPECT_THROW(w.write_tensor("x", nullptr, 0), Error);
  }
  const GgufFile f = GgufFile::open(path);
  EXPECT_EQ(f.alignment(), 64u);
  EXPECT_EQ(f.data_offset() % 64, 0u);
  expect_tensors(f, ts);
}

GgufValue make(VT type, decltype(GgufValue::data) data, VT array_type = VT::UINT8) {
  GgufValue v;
  v.type = type;
  v.array_type = array_type;
  v.data = std::move(data);
  return v;
}

TEST(GgufWriter, RoundTripsEveryValueType) {
  test::TempDir dir;
  const std::string path = dir.file("values.gguf");
  const GgufValue nested = make(VT::ARRAY,
                                std::vector<GgufValue>{
                                    make(VT::ARRAY, std::vector<GgufValue>{make(VT::INT16, int64_t(-5))}, VT::INT16),
                                    make(VT::ARRAY, std::vector<GgufValue>{}, VT::STRING),
                                },
                                VT::ARRAY);
  {
    GgufWriter w(path);
    w.add_u8("u8", 255);
    w.add_i8("i8", -128);
    w.add_u16("u16", 65535);
    w.add_i16("i16", -32768);
    w.add_u32("u32", 4294967295u);
    w.add_i32("i32", -2147483647 - 1);
    w.add_u64("u64", ~uint64_t(0));
    w.add_i64("i64", INT64_MIN);
    w.add_f32("f32", 1e-5f);
    w.add_f64("f64", 1e-300);
    w.add_bool("bool", false);
    w.add_string("string", std::string("with\0nul", 8));
    w.add_string_array("strings", {"a", "b"});
    w.add_f32_array("f32s", {0.5f, -1.25f});
    w.add_i32_array("i32s", {7, -7});
    w.add("nested", nested);
    w.set("u8", make(VT::UINT8, uint64_t(3)));  // replaces in place, keeps the position
    w.write();
  }
  const GgufFile f = GgufFile::open(path);
  ASSERT_EQ(f.metadata().size(), 16u);
  EXPECT_EQ(f.metadata()[0].first, "u8");
  EXPECT_EQ(f.get_u64("u8"), 3u);
  EXPECT_EQ(f.get("i8").as_i64("i8"), -128);
  EXPECT_EQ(f.get_u64("u16"), 65535u);
  EXPECT_EQ(f.get("i16").as_i64("i16"), -32768);
  EXPECT_EQ(f.get_u64("u32"), 4294967295u);
  EXPECT_EQ(f.get("i32").as_i64("i32"), INT32_MIN);
  EXPECT_EQ(f.get_u64("u64"), ~uint64_t(0));
  EXPECT_EQ(f.get("i64").as_i64("i64"), INT64_MIN);
  EXPECT_EQ(f.get_f64("f32"), double(1e-5f));
  EXPECT_EQ(f.get_f64("f64"), 1e-300);
  EXPECT_FALSE(f.get("bool").as_bool("bool"));
  EXPECT_EQ(f.get_string("string"), std::string("with\0nul", 8));
  EXPECT_EQ(f.get_string_array("strings"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(f.get_f64_array("f32s"), (std::vector<double>{0.5, -1.25}));
  EXPECT_EQ(f.get_i64_array("i32s"), (std::vector<int64_t>{7, -7}));
  expect_same_value(f.get("nested"), nested, "nested");
  // And a copy of that file keeps every type.
  {
    GgufWriter w(dir.file("values2.gguf"));
    w.copy_metadata(f);
    w.write();
  }
  expect_same_metadata(f, GgufFile::open(dir.file("values2.gguf")));
}

TEST(GgufWriter, RejectsBadDeclarations) {
  test::TempDir dir;
  const std::string path = dir.file("bad.gguf");
  GgufWriter w(path);
  w.add_u8("k", 1);
  std::string msg = error_of([&] { w.add_u8("k", 2); });
  EXPECT_NE(msg.find(path + ": metadata key 'k' added twice"), std::string::npos) << msg;
  msg = error_of([&] { w.add("v", make(VT::UINT8, uint64_t(300))); });
  EXPECT_NE(msg.find("metadata key 'v': 300 does not fit UINT8"), std::string::npos) << msg;
  msg = error_of([&] { w.add("s", make(VT::STRING, uint64_t(1))); });
  EXPECT_NE(msg.find("type STRING holds no string"), std::string::npos) << msg;
  msg = error_of([&] { w.add("arr", make(VT::ARRAY, std::vector<GgufValue>{make(VT::INT8, int64_t(1))}, VT::UINT8)); });
  EXPECT_NE(msg.find("element 0 is INT8 in an array of UINT8"), std::string::npos) << msg;
  msg = error_of([&] { w.add_u32("general.alignment", 48); });
  EXPECT_NE(msg.find("'general.alignment' is 48, not a power of two"), std::string::npos) << msg;
  msg = error_of([&] { w.add_u64("general.alignment", 64); });
  EXPECT_NE(msg.find("must be UINT32"), std::string::npos) << msg;
  msg = error_of([&] { w.add_u8("", 0); });
  EXPECT_NE(msg.find("must be 1 to 65535 bytes long"), std::string::npos) << msg;

  w.add_tensor("t", {32}, GgmlType::Q8_0, std::vector<uint8_t>(34));
  msg = error_of([&] { w.add_tensor("t", {32}, GgmlType::Q8_0, std::vector<uint8_t>(34)); });
  EXPECT_NE(msg.find("tensor 't': added twice"), std::string::npos) << msg;
  msg = error_of([&] { w.add_tensor("u", {32, 2}, GgmlType::Q8_0, std::vector<uint8_t>(34)); });
  EXPECT_NE(msg.find("tensor 'u': given 34 bytes, but Q8_0 with these dims takes 68"), std::string::npos) << msg;
  msg = error_of([&] { w.add_tensor_info("u", {30}, GgmlType::Q4_0); });
  EXPECT_NE(msg.find("rows of 30 elements are not a whole number of Q4_0 blocks of 32"), std::string::npos) << msg;
  msg = error_of([&] { w.add_tensor_info("u", {4, 0}, GgmlType::F32); });
  EXPECT_NE(msg.find("has a dimension of 0"), std::string::npos) << msg;
  msg = error_of([&] { w.add_tensor_info("u", {1, 1, 1, 1, 1}, GgmlType::F32); });
  EXPECT_NE(msg.find("has 5 dims, expected 1 to 4"), std::string::npos) << msg;
  msg = error_of([&] { w.add_tensor_info("u", {uint64_t(1) << 62, 4}, GgmlType::F32); });
  EXPECT_NE(msg.find("element count overflows 64 bits"), std::string::npos) << msg;
  msg = error_of([&] { w.add_tensor_info(std::string(65, 'n'), {4}, GgmlType::F32); });
  EXPECT_NE(msg.find("names must be 1 to 64 bytes long"), std::string::npos) << msg;
  msg = error_of([&] { w.add_tensor_info("u", {4}, GgmlType(77)); });
  EXPECT_NE(msg.find("unknown ggml type id 77"), std::string::npos) << msg;
}

// A producer that writes too little or too much fails the write, and nothing is left on disk.
TEST(GgufWriter, ProducerSizeMismatchLeavesNoFile) {
  test::TempDir dir;
  for (size_t produced : {size_t(60), size_t(70)}) {
    const std::string path = dir.file("out.gguf");
    std::string msg;
    {
      GgufWriter w(path);
      w.add_tensor("w", {16}, GgmlType::F32, std::vector<uint8_t>(64));
      w.add_tensor("p", {16}, GgmlType::F32, [produced](TensorSink& sink) {
        const std::vector<uint8_t> bytes(produced, 1);
        sink.write(bytes.data(), bytes.size());
      });
      msg = error_of([&] { w.write(); });
    }
    EXPECT_NE(msg.find(path + ": tensor 'p': producer wrote"), std::string::npos) << msg;
    EXPECT_FALSE(fs::exists(path));
    EXPECT_FALSE(fs::exists(path + ".partial"));
  }
}

TEST(GgufWriter, UnpushedTensorFailsFinish) {
  test::TempDir dir;
  const std::string path = dir.file("out.gguf");
  {
    GgufWriter w(path);
    w.add_tensor_info("never", {8}, GgmlType::F32);
    const std::string msg = error_of([&] { w.write(); });
    EXPECT_NE(msg.find("tensor 'never' was declared but its data never written"), std::string::npos) << msg;
  }
  EXPECT_FALSE(fs::exists(path));
  EXPECT_FALSE(fs::exists(path + ".partial"));
}

TEST(GgufWriter, RefusesExistingOutputWithoutForce) {
  test::TempDir dir;
  const std::string path = dir.file("exists.gguf");
  test::write_file(path, {1, 2, 3});
  const std::string msg = error_of([&] { GgufWriter w(path); });
  EXPECT_NE(msg.find("already exists (pass --force to overwrite it)"), std::string::npos) << msg;
  {
    GgufWriter w(path, /*force=*/true);
    w.add_u8("k", 1);
    w.write();
  }
  EXPECT_EQ(GgufFile::open(path).get_u64("k"), 1u);
}

}  // namespace
}  // namespace vkq::io
