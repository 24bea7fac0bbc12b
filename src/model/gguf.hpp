// GGUF v2/v3 reader: metadata of every value type, tensor infos, and memory-mapped tensor data.
// Spec: ggml's docs/gguf.md. All sizes are validated against the file before use, so a
// truncated or corrupted file is a vkq::Error naming the file and what is wrong, never a crash.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "model/ggml_types.hpp"

namespace vkq::model {

enum class GgufValueType : uint32_t {
  UINT8 = 0, INT8 = 1, UINT16 = 2, INT16 = 3, UINT32 = 4, INT32 = 5, FLOAT32 = 6,
  BOOL = 7, STRING = 8, ARRAY = 9, UINT64 = 10, INT64 = 11, FLOAT64 = 12,
};

const char* gguf_value_type_name(GgufValueType t);

// One metadata value. Arrays keep their element type; nested arrays are allowed by the spec.
struct GgufValue {
  GgufValueType type = GgufValueType::UINT8;
  GgufValueType array_type = GgufValueType::UINT8;  // meaningful when type == ARRAY
  std::variant<uint64_t, int64_t, double, bool, std::string, std::vector<GgufValue>> data;

  // Checked accessors: throw vkq::Error naming `key` when the stored type does not convert.
  uint64_t as_u64(std::string_view key) const;   // any unsigned/signed integer >= 0
  int64_t as_i64(std::string_view key) const;    // any integer
  double as_f64(std::string_view key) const;     // any integer or float
  bool as_bool(std::string_view key) const;
  const std::string& as_string(std::string_view key) const;
  const std::vector<GgufValue>& as_array(std::string_view key) const;
};

struct GgufTensorInfo {
  std::string name;
  std::vector<uint64_t> dims;  // GGUF order: innermost (contiguous) first; rows = product of dims[1..]
  GgmlType type = GgmlType::F32;
  uint64_t offset = 0;         // relative to the start of the data section
  uint64_t n_elements() const;
  uint64_t row_length() const { return dims.empty() ? 1 : dims[0]; }
  uint64_t n_rows() const;
  uint64_t n_bytes() const;    // from the type's block size
};

class GgufFile {
 public:
  // Opens and validates `path` (magic, version 2 or 3, counts, string lengths, tensor extents,
  // alignment). Tensor data is memory-mapped and read lazily.
  static GgufFile open(const std::string& path);
  // The same validation over bytes in memory (fuzzing, tests); `name` stands for the path in errors.
  static GgufFile from_memory(std::vector<uint8_t> bytes, const std::string& name);
  // A GGUF put together in memory from metadata and tensors whose bytes live elsewhere (a mapped
  // safetensors checkpoint, converted buffers), owned by `keep_alive` for this object's life.
  // Nothing is copied; `name` stands for the path in errors. vkq::Error for a repeated tensor name.
  struct AssembledTensor {
    GgufTensorInfo info;
    const uint8_t* data = nullptr;  // info.n_bytes() bytes
  };
  static GgufFile assemble(std::string name, std::vector<std::pair<std::string, GgufValue>> metadata,
                           std::vector<AssembledTensor> tensors, std::shared_ptr<const void> keep_alive);

  GgufFile(GgufFile&&) noexcept;
  GgufFile& operator=(GgufFile&&) noexcept;
  ~GgufFile();

  const std::string& path() const;
  uint32_t version() const;
  uint64_t alignment() const;        // general.alignment or 32
  uint64_t data_offset() const;      // file offset of the tensor data section
  uint64_t file_size() const;        // bytes in the file

  // Metadata in file order.
  const std::vector<std::pair<std::string, GgufValue>>& metadata() const;
  const GgufValue* find(std::string_view key) const;  // nullptr when absent
  const GgufValue& get(std::string_view key) const;   // throws vkq::Error naming the key and file

  // Convenience getters (throw vkq::Error naming key/file when missing or mistyped).
  std::string get_string(std::string_view key) const;
  uint64_t get_u64(std::string_view key) const;
  double get_f64(std::string_view key) const;
  std::vector<std::string> get_string_array(std::string_view key) const;
  std::vector<double> get_f64_array(std::string_view key) const;
  std::vector<int64_t> get_i64_array(std::string_view key) const;

  const std::vector<GgufTensorInfo>& tensors() const;
  const GgufTensorInfo* find_tensor(std::string_view name) const;
  const GgufTensorInfo& tensor(std::string_view name) const;  // throws when absent

  // Raw bytes of a tensor inside the mapping (valid while this object lives).
  const uint8_t* tensor_data(const GgufTensorInfo& t) const;

  // Dequantizes/converts a tensor (any type ggml_types.hpp can decode) to fp32, row-major.
  std::vector<float> read_f32(const GgufTensorInfo& t) const;

 private:
  struct Impl;
  explicit GgufFile(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace vkq::model
