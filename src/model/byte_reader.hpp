// Bounds-checked little-endian cursor over a byte range (a mapped file or a buffer). Every read
// checks the bytes remaining first, so a truncated or lying file becomes a vkq::Error that names
// the file, what was being read and where — never a read past the end.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>

#include "vkquant/vkquant.hpp"

namespace vkq::model {

class ByteReader {
 public:
  ByteReader(const uint8_t* data, uint64_t size, std::string_view file) : data_(data), size_(size), file_(file) {}

  uint64_t offset() const { return pos_; }
  uint64_t size() const { return size_; }
  uint64_t remaining() const { return size_ - pos_; }
  std::string_view file() const { return file_; }

  // Throws "FILE: PROBLEM (at byte offset N)".
  [[noreturn]] void fail(const std::string& problem) const {
    throw Error(std::string(file_) + ": " + problem + " (at byte offset " + std::to_string(pos_) + ")");
  }

  void need(uint64_t n, std::string_view what) const {
    if (n > remaining())
      fail("truncated: " + std::string(what) + " needs " + std::to_string(n) + " bytes but only " +
           std::to_string(remaining()) + " remain in the " + std::to_string(size_) + "-byte file");
  }

  template <typename T>
  T read(std::string_view what) {
    static_assert(std::is_trivially_copyable_v<T>);
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, data_ + pos_, sizeof(T));  // host is little-endian, as GGUF and llama2.c files are
    pos_ += sizeof(T);
    return v;
  }

  // A view of the next n bytes (valid while the underlying buffer lives).
  const uint8_t* read_bytes(uint64_t n, std::string_view what) {
    need(n, what);
    const uint8_t* p = data_ + pos_;
    pos_ += n;
    return p;
  }

 private:
  const uint8_t* data_;
  uint64_t size_;
  uint64_t pos_ = 0;
  std::string_view file_;
};

}  // namespace vkq::model
