// Fuzz target for the GGUF reader: any input must either parse or throw vkq::Error.
// A parsed file is exercised further — metadata accessors and decoding every readable tensor —
// so a validation gap shows up as an out-of-bounds read under the sanitizers.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "fuzz_targets.hpp"
#include "model/gguf.hpp"
#include "vkquant/vkquant.hpp"

namespace {

void touch_value(const vkq::model::GgufValue& v) {
  if (v.type == vkq::model::GgufValueType::ARRAY)
    for (const auto& item : v.as_array("fuzz")) touch_value(item);
}

}  // namespace

namespace vkq::fuzz {

int gguf_one_input(const uint8_t* data, size_t size) {
  try {
    const auto file = vkq::model::GgufFile::from_memory(std::vector<uint8_t>(data, data + size), "fuzz-input");
    for (const auto& [key, value] : file.metadata()) {
      touch_value(value);
      if (file.find(key) != &value) __builtin_trap();  // the index must agree with the list
    }
    for (const auto& t : file.tensors()) {
      if (file.find_tensor(t.name) != &t) __builtin_trap();
      if (vkq::model::is_supported_for_reading(t.type)) file.read_f32(t);  // bounded: the data is in the input
    }
  } catch (const vkq::Error&) {
    // Rejected input: the expected outcome for most fuzz inputs.
  }
  return 0;
}

}  // namespace vkq::fuzz
