// GgufValue's checked accessors: a value converts only where no information is lost, otherwise
// the error names the key, the stored type and what was asked for.
#include <limits>
#include <string>

#include "model/gguf.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::model {

const char* gguf_value_type_name(GgufValueType t) {
  switch (t) {
    case GgufValueType::UINT8: return "UINT8";
    case GgufValueType::INT8: return "INT8";
    case GgufValueType::UINT16: return "UINT16";
    case GgufValueType::INT16: return "INT16";
    case GgufValueType::UINT32: return "UINT32";
    case GgufValueType::INT32: return "INT32";
    case GgufValueType::FLOAT32: return "FLOAT32";
    case GgufValueType::BOOL: return "BOOL";
    case GgufValueType::STRING: return "STRING";
    case GgufValueType::ARRAY: return "ARRAY";
    case GgufValueType::UINT64: return "UINT64";
    case GgufValueType::INT64: return "INT64";
    case GgufValueType::FLOAT64: return "FLOAT64";
  }
  return "unknown";
}

namespace {

[[noreturn]] void mistyped(std::string_view key, const GgufValue& v, const char* wanted) {
  std::string stored = gguf_value_type_name(v.type);
  if (v.type == GgufValueType::ARRAY) stored += std::string(" of ") + gguf_value_type_name(v.array_type);
  throw Error("metadata key '" + std::string(key) + "' holds " + stored + ", not " + wanted);
}

}  // namespace

uint64_t GgufValue::as_u64(std::string_view key) const {
  if (const auto* u = std::get_if<uint64_t>(&data)) return *u;
  if (const auto* i = std::get_if<int64_t>(&data)) {
    if (*i < 0)
      throw Error("metadata key '" + std::string(key) + "' is " + std::to_string(*i) + ", expected a value >= 0");
    return uint64_t(*i);
  }
  mistyped(key, *this, "an integer");
}

int64_t GgufValue::as_i64(std::string_view key) const {
  if (const auto* i = std::get_if<int64_t>(&data)) return *i;
  if (const auto* u = std::get_if<uint64_t>(&data)) {
    if (*u > uint64_t(std::numeric_limits<int64_t>::max()))
      throw Error("metadata key '" + std::string(key) + "' is " + std::to_string(*u) + ", too large for int64");
    return int64_t(*u);
  }
  mistyped(key, *this, "an integer");
}

double GgufValue::as_f64(std::string_view key) const {
  if (const auto* d = std::get_if<double>(&data)) return *d;
  if (const auto* u = std::get_if<uint64_t>(&data)) return double(*u);
  if (const auto* i = std::get_if<int64_t>(&data)) return double(*i);
  mistyped(key, *this, "a number");
}

bool GgufValue::as_bool(std::string_view key) const {
  if (const auto* b = std::get_if<bool>(&data)) return *b;
  mistyped(key, *this, "a BOOL");
}

const std::string& GgufValue::as_string(std::string_view key) const {
  if (const auto* s = std::get_if<std::string>(&data)) return *s;
  mistyped(key, *this, "a STRING");
}

const std::vector<GgufValue>& GgufValue::as_array(std::string_view key) const {
  if (const auto* a = std::get_if<std::vector<GgufValue>>(&data)) return *a;
  mistyped(key, *this, "an ARRAY");
}

}  // namespace vkq::model
