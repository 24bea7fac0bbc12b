// Helpers for the tokenizer tests: a writer of metadata-only GGUF files (just the tokenizer keys a
// test needs, so each error case can drop or break one key) and a self-deleting temp directory.
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace vkq::test {

class TokenizerGgufWriter {
 public:
  void string(std::string_view key, std::string_view value) {
    begin(key, kString);
    str(value);
  }
  void strings(std::string_view key, const std::vector<std::string>& values) {
    begin(key, kArray);
    pod(kString);
    pod(uint64_t(values.size()));
    for (const auto& v : values) str(v);
  }
  void f32s(std::string_view key, const std::vector<float>& values) { array(key, kFloat32, values); }
  void i32s(std::string_view key, const std::vector<int32_t>& values) { array(key, kInt32, values); }
  void u32(std::string_view key, uint32_t value) {
    begin(key, kUint32);
    pod(value);
  }
  void boolean(std::string_view key, bool value) {
    begin(key, kBool);
    pod(uint8_t(value));
  }

  // GGUF v3, no tensors.
  void write(const std::string& path) const {
    std::ofstream f(path, std::ios::binary);
    f.write("GGUF", 4);
    const uint32_t version = 3;
    const uint64_t n_tensors = 0;
    f.write(reinterpret_cast<const char*>(&version), 4);
    f.write(reinterpret_cast<const char*>(&n_tensors), 8);
    f.write(reinterpret_cast<const char*>(&n_kv_), 8);
    f.write(reinterpret_cast<const char*>(kv_.data()), std::streamsize(kv_.size()));
  }

 private:
  static constexpr uint32_t kUint32 = 4, kInt32 = 5, kFloat32 = 6, kBool = 7, kString = 8, kArray = 9;
  template <typename T>
  void pod(T v) {
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    kv_.insert(kv_.end(), p, p + sizeof(T));
  }
  void str(std::string_view s) {
    pod(uint64_t(s.size()));
    kv_.insert(kv_.end(), s.begin(), s.end());
  }
  void begin(std::string_view key, uint32_t type) {
    str(key);
    pod(type);
    ++n_kv_;
  }
  template <typename T>
  void array(std::string_view key, uint32_t type, const std::vector<T>& values) {
    begin(key, kArray);
    pod(type);
    pod(uint64_t(values.size()));
    for (T v : values) pod(v);
  }
  std::vector<uint8_t> kv_;
  uint64_t n_kv_ = 0;
};

class TokenizerTempDir {
 public:
  TokenizerTempDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() / ("vkq_tok_" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TokenizerTempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TokenizerTempDir(const TokenizerTempDir&) = delete;
  TokenizerTempDir& operator=(const TokenizerTempDir&) = delete;
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

}  // namespace vkq::test
