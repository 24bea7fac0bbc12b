// GGUF value encoding. GgufValue keeps every integer as 64 bits, so the declared type decides
// the width written and the value is range-checked against it.
#include "io/gguf_encode.hpp"

#include <limits>
#include <type_traits>

#include "vkquant/vkquant.hpp"

namespace vkq::io {
namespace {

using model::GgufValue;
using model::GgufValueType;

constexpr int kMaxArrayNesting = 16;  // as the reader (model/gguf_parse.hpp) accepts

[[noreturn]] void inconsistent(const std::string& key, const std::string& problem) {
  throw Error("metadata key '" + key + "': " + problem);
}

template <typename T>
T checked_integer(const GgufValue& v, const std::string& key) {
  if (const auto* u = std::get_if<uint64_t>(&v.data)) {
    if (*u <= uint64_t(std::numeric_limits<T>::max())) return T(*u);
    inconsistent(key, std::to_string(*u) + " does not fit " + model::gguf_value_type_name(v.type));
  }
  if (const auto* i = std::get_if<int64_t>(&v.data)) {
    const bool fits = std::is_signed_v<T> ? (*i >= int64_t(std::numeric_limits<T>::min()) &&
                                             *i <= int64_t(std::numeric_limits<T>::max()))
                                          : (*i >= 0 && uint64_t(*i) <= uint64_t(std::numeric_limits<T>::max()));
    if (fits) return T(*i);
    inconsistent(key, std::to_string(*i) + " does not fit " + model::gguf_value_type_name(v.type));
  }
  inconsistent(key, std::string("type ") + model::gguf_value_type_name(v.type) + " holds no integer");
}

double checked_float(const GgufValue& v, const std::string& key) {
  if (const auto* d = std::get_if<double>(&v.data)) return *d;
  inconsistent(key, std::string("type ") + model::gguf_value_type_name(v.type) + " holds no floating-point value");
}

void append_nested(std::vector<uint8_t>& out, const GgufValue& v, const std::string& key, int depth) {
  switch (v.type) {
    case GgufValueType::UINT8: append_pod(out, checked_integer<uint8_t>(v, key)); return;
    case GgufValueType::INT8: append_pod(out, checked_integer<int8_t>(v, key)); return;
    case GgufValueType::UINT16: append_pod(out, checked_integer<uint16_t>(v, key)); return;
    case GgufValueType::INT16: append_pod(out, checked_integer<int16_t>(v, key)); return;
    case GgufValueType::UINT32: append_pod(out, checked_integer<uint32_t>(v, key)); return;
    case GgufValueType::INT32: append_pod(out, checked_integer<int32_t>(v, key)); return;
    case GgufValueType::UINT64: append_pod(out, checked_integer<uint64_t>(v, key)); return;
    case GgufValueType::INT64: append_pod(out, checked_integer<int64_t>(v, key)); return;
    case GgufValueType::FLOAT32: append_pod(out, float(checked_float(v, key))); return;
    case GgufValueType::FLOAT64: append_pod(out, checked_float(v, key)); return;
    case GgufValueType::BOOL:
      if (const auto* b = std::get_if<bool>(&v.data)) return append_pod<uint8_t>(out, *b ? 1 : 0);
      inconsistent(key, "type BOOL holds no bool");
    case GgufValueType::STRING:
      if (const auto* s = std::get_if<std::string>(&v.data)) return append_string(out, *s);
      inconsistent(key, "type STRING holds no string");
    case GgufValueType::ARRAY: {
      const auto* items = std::get_if<std::vector<GgufValue>>(&v.data);
      if (!items) inconsistent(key, "type ARRAY holds no elements vector");
      // The reader refuses deeper nesting, so the writer never produces it.
      if (depth >= kMaxArrayNesting)
        inconsistent(key, "arrays nested deeper than " + std::to_string(kMaxArrayNesting) + " levels");
      append_pod<uint32_t>(out, uint32_t(v.array_type));
      append_pod<uint64_t>(out, items->size());
      for (size_t i = 0; i < items->size(); ++i) {
        const GgufValue& item = (*items)[i];
        if (item.type != v.array_type)
          inconsistent(key, "element " + std::to_string(i) + " is " + model::gguf_value_type_name(item.type) +
                                " in an array of " + model::gguf_value_type_name(v.array_type));
        append_nested(out, item, key, depth + 1);
      }
      return;
    }
  }
  inconsistent(key, "unknown value type " + std::to_string(uint32_t(v.type)));
}

}  // namespace

void append_string(std::vector<uint8_t>& out, std::string_view s) {
  append_pod<uint64_t>(out, s.size());
  const size_t at = out.size();
  out.resize(at + s.size());
  if (!s.empty()) std::memcpy(out.data() + at, s.data(), s.size());
}

void append_value(std::vector<uint8_t>& out, const GgufValue& v, const std::string& key) {
  append_nested(out, v, key, 0);
}

}  // namespace vkq::io
