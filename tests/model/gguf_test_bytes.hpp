// Builds GGUF files byte by byte for reader tests, independently of src/io's writer, so that
// tests can lay out exactly the valid or corrupted bytes they need and know where each field is.
#pragma once

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "model/gguf.hpp"

namespace vkq::test {

class GgufBytes {
 public:
  std::vector<uint8_t> bytes;

  size_t size() const { return bytes.size(); }

  template <typename T>
  void pod(T v) {
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    bytes.insert(bytes.end(), p, p + sizeof(T));
  }
  void str(std::string_view s) {
    pod<uint64_t>(s.size());
    bytes.insert(bytes.end(), s.begin(), s.end());
  }
  void raw(const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    bytes.insert(bytes.end(), b, b + n);
  }
  void header(uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
    raw("GGUF", 4);
    pod(version);
    pod(n_tensors);
    pod(n_kv);
  }
  void key(std::string_view k, model::GgufValueType t) {
    str(k);
    pod(uint32_t(t));
  }
  void array_header(model::GgufValueType element, uint64_t count) {
    pod(uint32_t(element));
    pod(count);
  }
  void tensor_info(std::string_view name, const std::vector<uint64_t>& dims, model::GgmlType type, uint64_t offset) {
    str(name);
    pod(uint32_t(dims.size()));
    for (uint64_t d : dims) pod(d);
    pod(uint32_t(type));
    pod(offset);
  }
  void pad_to(uint64_t alignment) {
    while (bytes.size() % alignment) bytes.push_back(0);
  }

  template <typename T>
  void put_at(size_t offset, T v) {
    std::memcpy(bytes.data() + offset, &v, sizeof(T));
  }
};

// Offsets of fields inside the sample file, so corruption tests can aim at them.
struct SampleLayout {
  size_t n_tensors_field = 8;
  size_t n_kv_field = 16;
  size_t first_key_length = 24;
  size_t kv_end = 0;             // first byte of the tensor infos
  size_t infos_end = 0;          // first byte after the tensor infos
  size_t first_n_dims = 0;       // n_dims field of tensor 0
  size_t first_dim0 = 0;         // dims[0] of tensor 0
  size_t first_type = 0;         // type field of tensor 0
  size_t first_offset = 0;       // offset field of tensor 0
  size_t second_offset = 0;      // offset field of tensor 1
  size_t last_type = 0;          // type field of the last tensor
  size_t bool_value = 0;         // the BOOL value byte
  size_t nested_count = 0;       // count of the inner array in the nested-array value
  size_t data_start = 0;
};

// A small valid GGUF v3 file with every metadata value type (nested arrays included) and three
// tensors: "a" F32 [8, 2], "b" Q8_0 [32, 2], "c" F16 [16]; the file ends exactly where c's data ends.
inline std::vector<uint8_t> sample_gguf(SampleLayout* layout = nullptr, uint32_t version = 3) {
  using VT = model::GgufValueType;
  SampleLayout l;
  GgufBytes g;
  g.header(version, 3, 15);
  g.key("t.u8", VT::UINT8); g.pod<uint8_t>(200);
  g.key("t.i8", VT::INT8); g.pod<int8_t>(-100);
  g.key("t.u16", VT::UINT16); g.pod<uint16_t>(60000);
  g.key("t.i16", VT::INT16); g.pod<int16_t>(-30000);
  g.key("t.u32", VT::UINT32); g.pod<uint32_t>(4000000000u);
  g.key("t.i32", VT::INT32); g.pod<int32_t>(-2000000000);
  g.key("t.u64", VT::UINT64); g.pod<uint64_t>(18000000000000000000ull);
  g.key("t.i64", VT::INT64); g.pod<int64_t>(-9000000000000000000ll);
  g.key("t.f32", VT::FLOAT32); g.pod<float>(0.1f);
  g.key("t.f64", VT::FLOAT64); g.pod<double>(0.1);
  g.key("t.bool", VT::BOOL); l.bool_value = g.size(); g.pod<uint8_t>(1);
  g.key("t.string", VT::STRING); g.str("héllo");
  g.key("t.strings", VT::ARRAY); g.array_header(VT::STRING, 3); g.str("a"); g.str(""); g.str("ccc");
  g.key("t.i32s", VT::ARRAY); g.array_header(VT::INT32, 4);
  for (int32_t v : {1, -2, 3, -4}) g.pod(v);
  g.key("t.nested", VT::ARRAY); g.array_header(VT::ARRAY, 2);
  g.array_header(VT::UINT16, 2); g.pod<uint16_t>(7); g.pod<uint16_t>(8);
  l.nested_count = g.size() + 4;
  g.array_header(VT::FLOAT32, 1); g.pod<float>(2.5f);
  l.kv_end = g.size();
  l.first_n_dims = g.size() + 8 + 1;
  l.first_dim0 = l.first_n_dims + 4;
  l.first_type = l.first_dim0 + 16;
  l.first_offset = l.first_type + 4;
  g.tensor_info("a", {8, 2}, model::GgmlType::F32, 0);  // 64 bytes
  l.second_offset = g.size() + 8 + 1 + 4 + 16 + 4;
  g.tensor_info("b", {32, 2}, model::GgmlType::Q8_0, 64);  // 68 bytes, padded to 96
  l.last_type = g.size() + 8 + 1 + 4 + 8;
  g.tensor_info("c", {16}, model::GgmlType::F16, 160);  // 32 bytes
  l.infos_end = g.size();
  g.pad_to(32);
  l.data_start = g.size();
  for (int i = 0; i < 16; ++i) g.pod<float>(float(i) - 4.5f);
  for (int b = 0; b < 2; ++b) {
    g.pod<uint16_t>(0x3800);  // d = 0.5
    for (int j = 0; j < 32; ++j) g.pod<int8_t>(int8_t(j - 16 + b));
  }
  g.pad_to(32);
  for (int i = 0; i < 16; ++i) g.pod<uint16_t>(uint16_t(0x3C00 + i));  // 1.0 + i/1024
  if (layout) *layout = l;
  return g.bytes;
}

// A fresh directory under the system temp dir, removed with its contents at scope end.
class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() / ("vkq_test_" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline void write_file(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

inline std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

}  // namespace vkq::test
