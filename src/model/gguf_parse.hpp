// Parsing and validation of a GGUF header (everything before the tensor data) from bytes.
// Private to src/model: GgufFile owns the bytes and keeps the result.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "model/gguf.hpp"

namespace vkq::model {

inline constexpr uint64_t kGgufDefaultAlignment = 32;
inline constexpr uint32_t kGgufMaxDims = 4;
inline constexpr uint64_t kGgufMaxTensorName = 64;   // bytes, as the spec bounds names
inline constexpr int kGgufMaxArrayNesting = 16;      // bounds recursion on hostile input

struct GgufLayout {
  uint32_t version = 0;
  uint64_t alignment = kGgufDefaultAlignment;
  uint64_t data_offset = 0;  // file offset of the (aligned) tensor data section
  std::vector<std::pair<std::string, GgufValue>> metadata;
  std::vector<GgufTensorInfo> tensors;
};

// Validates magic, version, counts, every length, value type and tensor info, and that every
// tensor's data lies aligned, inside the file and without overlap. `file` names errors.
GgufLayout parse_gguf(const uint8_t* data, uint64_t size, const std::string& file);

}  // namespace vkq::model
