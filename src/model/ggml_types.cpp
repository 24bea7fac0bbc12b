// The ggml type table: ids, names and block geometry (from ggml-common.h's block structs).
#include "model/ggml_types.hpp"

#include <array>
#include <string>

#include "vkquant/vkquant.hpp"

namespace vkq::model {
namespace {

struct TypeTraits {
  GgmlType type;
  const char* name;
  uint64_t block_size;
  uint64_t block_bytes;
};

constexpr uint64_t kSuperBlock = 256;  // ggml's QK_K

constexpr std::array<TypeTraits, 32> kTypes = {{
    {GgmlType::F32, "F32", 1, 4},
    {GgmlType::F16, "F16", 1, 2},
    {GgmlType::Q4_0, "Q4_0", 32, 2 + 16},
    {GgmlType::Q4_1, "Q4_1", 32, 2 + 2 + 16},
    {GgmlType::Q5_0, "Q5_0", 32, 2 + 4 + 16},
    {GgmlType::Q5_1, "Q5_1", 32, 2 + 2 + 4 + 16},
    {GgmlType::Q8_0, "Q8_0", 32, 2 + 32},
    {GgmlType::Q8_1, "Q8_1", 32, 2 + 2 + 32},
    {GgmlType::Q2_K, "Q2_K", kSuperBlock, 16 + 64 + 2 + 2},
    {GgmlType::Q3_K, "Q3_K", kSuperBlock, 32 + 64 + 12 + 2},
    {GgmlType::Q4_K, "Q4_K", kSuperBlock, 2 + 2 + 12 + 128},
    {GgmlType::Q5_K, "Q5_K", kSuperBlock, 2 + 2 + 12 + 32 + 128},
    {GgmlType::Q6_K, "Q6_K", kSuperBlock, 128 + 64 + 16 + 2},
    {GgmlType::Q8_K, "Q8_K", kSuperBlock, 4 + 256 + 32},
    {GgmlType::IQ2_XXS, "IQ2_XXS", kSuperBlock, 2 + 64},
    {GgmlType::IQ2_XS, "IQ2_XS", kSuperBlock, 2 + 64 + 8},
    {GgmlType::IQ3_XXS, "IQ3_XXS", kSuperBlock, 2 + 96},
    {GgmlType::IQ1_S, "IQ1_S", kSuperBlock, 2 + 32 + 16},
    {GgmlType::IQ4_NL, "IQ4_NL", 32, 2 + 16},
    {GgmlType::IQ3_S, "IQ3_S", kSuperBlock, 2 + 64 + 8 + 32 + 4},
    {GgmlType::IQ2_S, "IQ2_S", kSuperBlock, 2 + 64 + 8 + 8},
    {GgmlType::IQ4_XS, "IQ4_XS", kSuperBlock, 2 + 2 + 4 + 128},
    {GgmlType::I8, "I8", 1, 1},
    {GgmlType::I16, "I16", 1, 2},
    {GgmlType::I32, "I32", 1, 4},
    {GgmlType::I64, "I64", 1, 8},
    {GgmlType::F64, "F64", 1, 8},
    {GgmlType::IQ1_M, "IQ1_M", kSuperBlock, 32 + 16 + 8},
    {GgmlType::BF16, "BF16", 1, 2},
    {GgmlType::TQ1_0, "TQ1_0", kSuperBlock, 48 + 4 + 2},
    {GgmlType::TQ2_0, "TQ2_0", kSuperBlock, 64 + 2},
    {GgmlType::MXFP4, "MXFP4", 32, 1 + 16},
}};

const TypeTraits* find_traits(uint32_t id) {
  for (const auto& t : kTypes)
    if (uint32_t(t.type) == id) return &t;
  return nullptr;
}

const TypeTraits& traits(GgmlType t) {
  if (const TypeTraits* tr = find_traits(uint32_t(t))) return *tr;
  throw Error("ggml type id " + std::to_string(uint32_t(t)) + " is not a known ggml type");
}

char upper(char c) { return (c >= 'a' && c <= 'z') ? char(c - 'a' + 'A') : c; }

}  // namespace

std::optional<GgmlType> ggml_type_from_id(uint32_t id) {
  if (const TypeTraits* tr = find_traits(id)) return tr->type;
  return std::nullopt;
}

const char* ggml_type_name(GgmlType t) {
  const TypeTraits* tr = find_traits(uint32_t(t));
  return tr ? tr->name : "unknown";
}

std::optional<GgmlType> find_ggml_type(std::string_view name) {
  for (const auto& t : kTypes) {
    const std::string_view candidate(t.name);
    if (candidate.size() != name.size()) continue;
    bool same = true;
    for (size_t i = 0; i < name.size() && same; ++i) same = upper(name[i]) == candidate[i];
    if (same) return t.type;
  }
  return std::nullopt;
}

GgmlType ggml_type_from_name(std::string_view name) {
  if (auto t = find_ggml_type(name)) return *t;
  std::string known;
  for (const auto& t : kTypes) known += std::string(known.empty() ? "" : ", ") + t.name;
  throw Error("unknown ggml type name '" + std::string(name) + "' (known: " + known + ")");
}

uint64_t ggml_block_size(GgmlType t) { return traits(t).block_size; }

uint64_t ggml_block_bytes(GgmlType t) { return traits(t).block_bytes; }

uint64_t ggml_row_size(GgmlType t, uint64_t n) {
  const TypeTraits& tr = traits(t);
  if (n % tr.block_size != 0)
    throw Error(std::string("a row of ") + std::to_string(n) + " elements is not a whole number of " +
                tr.name + " blocks of " + std::to_string(tr.block_size));
  const uint64_t blocks = n / tr.block_size;
  // Every caller has bounded n by a file size or an allocation, but a product is checked anyway.
  if (blocks > UINT64_MAX / tr.block_bytes)
    throw Error(std::string("a row of ") + std::to_string(n) + " " + tr.name + " elements overflows 64-bit sizes");
  return blocks * tr.block_bytes;
}

bool is_supported_for_reading(GgmlType t) {
  switch (t) {
    case GgmlType::F32: case GgmlType::F16: case GgmlType::BF16: case GgmlType::Q8_0:
    case GgmlType::Q4_0: case GgmlType::Q4_1: case GgmlType::Q5_0: case GgmlType::Q5_1:
    case GgmlType::Q2_K: case GgmlType::Q3_K: case GgmlType::Q4_K: case GgmlType::Q5_K: case GgmlType::Q6_K:
    case GgmlType::IQ4_NL: case GgmlType::IQ4_XS:
      return true;
    default:
      return false;
  }
}

void require_readable(GgmlType t, std::string_view tensor_name) {
  if (is_supported_for_reading(t)) return;
  throw Error("tensor '" + std::string(tensor_name) + "' has type " + ggml_type_name(t) +
              ", which vkquant cannot read (readable types: " + kReadableTypes + ")");
}

}  // namespace vkq::model
