// safetensors reader (huggingface/safetensors format: u64 header length, a JSON header naming
// each tensor's dtype, shape and byte range, then the data). The header is validated strictly
// before any tensor is touched: every range inside the file, sized as its dtype and shape say,
// no two ranges overlapping. Data stays memory-mapped.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "model/ggml_types.hpp"

namespace vkq::model {

struct SafetensorsTensor {
  std::string name;
  std::string dtype;            // as the header spells it: "BF16", "F32", "I64", ...
  std::vector<uint64_t> shape;  // outermost first (row-major, as PyTorch)
  const uint8_t* data = nullptr;
  uint64_t n_bytes = 0;
  uint64_t n_elements() const;
};

// The GGUF type holding a dtype's values unchanged (F32, F16, BF16); vkq::Error naming the tensor
// and `file` for any other dtype (integers, F64, F8 are not weights vkquant reads).
GgmlType safetensors_float_type(const SafetensorsTensor& t, const std::string& file);

class SafetensorsFile {
 public:
  // Maps and validates `path`; vkq::Error naming the file and the problem.
  static SafetensorsFile open(const std::string& path);
  // The same validation over bytes in memory (fuzzing, tests); `name` stands for the path.
  static SafetensorsFile from_memory(std::vector<uint8_t> bytes, const std::string& name);

  SafetensorsFile(SafetensorsFile&&) noexcept;
  SafetensorsFile& operator=(SafetensorsFile&&) noexcept;
  ~SafetensorsFile();

  const std::string& path() const;
  const std::vector<SafetensorsTensor>& tensors() const;  // in header order
  const SafetensorsTensor* find(std::string_view name) const;
  const std::map<std::string, std::string>& metadata() const;  // "__metadata__"

 private:
  struct Impl;
  explicit SafetensorsFile(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace vkq::model
