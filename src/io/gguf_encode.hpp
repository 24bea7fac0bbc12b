// Serialization of GGUF metadata values and strings (little-endian, as the spec lays them out).
// Private to src/io: the writer's building blocks.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "model/gguf.hpp"

namespace vkq::io {

template <typename T>
void append_pod(std::vector<uint8_t>& out, T v) {
  const size_t at = out.size();
  out.resize(at + sizeof(T));
  std::memcpy(out.data() + at, &v, sizeof(T));  // host is little-endian, as GGUF is
}

void append_string(std::vector<uint8_t>& out, std::string_view s);

// Appends v's encoding without its leading type tag. vkq::Error naming `key` when the value is
// inconsistent: the stored number does not fit its type, or an array element's type differs.
void append_value(std::vector<uint8_t>& out, const model::GgufValue& v, const std::string& key);

}  // namespace vkq::io
