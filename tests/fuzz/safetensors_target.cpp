// Fuzz target for the safetensors reader: any input must either parse or throw vkq::Error. A
// parsed file has every float tensor decoded, so a validation gap in the header checks shows up as
// an out-of-bounds read under the sanitizers.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "fuzz_targets.hpp"
#include "model/ggml_types.hpp"
#include "model/safetensors.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::fuzz {

int safetensors_one_input(const uint8_t* data, size_t size) {
  try {
    const auto file = vkq::model::SafetensorsFile::from_memory(std::vector<uint8_t>(data, data + size), "fuzz-input");
    for (const auto& t : file.tensors()) {
      if (file.find(t.name) != &t) __builtin_trap();  // the index must agree with the list
      try {
        const auto type = vkq::model::safetensors_float_type(t, "fuzz-input");
        std::vector<float> values(t.n_elements());
        vkq::model::dequantize_row(type, t.data, values.data(), values.size());
      } catch (const vkq::Error&) {
        // a dtype vkquant does not read as weights
      }
    }
  } catch (const vkq::Error&) {
    // Rejected input: the expected outcome for most fuzz inputs.
  }
  return 0;
}

}  // namespace vkq::fuzz
