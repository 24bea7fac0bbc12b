// GgufValue constructors for metadata built in code (the writer, converted checkpoints).
#pragma once

#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "model/gguf.hpp"

namespace vkq::io {

inline model::GgufValue gguf_scalar(model::GgufValueType type, decltype(model::GgufValue::data) data) {
  model::GgufValue v;
  v.type = type;
  v.data = std::move(data);
  return v;
}

template <typename T>
model::GgufValue gguf_array(model::GgufValueType element_type, const std::vector<T>& items) {
  std::vector<model::GgufValue> elements;
  elements.reserve(items.size());
  for (const T& item : items) {
    if constexpr (std::is_same_v<T, std::string>) elements.push_back(gguf_scalar(element_type, item));
    else if constexpr (std::is_floating_point_v<T>) elements.push_back(gguf_scalar(element_type, double(item)));
    else elements.push_back(gguf_scalar(element_type, int64_t(item)));
  }
  model::GgufValue v;
  v.type = model::GgufValueType::ARRAY;
  v.array_type = element_type;
  v.data = std::move(elements);
  return v;
}

inline model::GgufValue gguf_u32(uint32_t v) { return gguf_scalar(model::GgufValueType::UINT32, uint64_t(v)); }
inline model::GgufValue gguf_f32(float v) { return gguf_scalar(model::GgufValueType::FLOAT32, double(v)); }
inline model::GgufValue gguf_bool(bool v) { return gguf_scalar(model::GgufValueType::BOOL, v); }
inline model::GgufValue gguf_string(std::string v) { return gguf_scalar(model::GgufValueType::STRING, std::move(v)); }

}  // namespace vkq::io
