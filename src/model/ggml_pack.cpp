// Packing integer codes and fp16 parameters into ggml's 32-element block layouts, and encoding
// floats as F32/F16/BF16: the inverse of ggml_dequantize.cpp, byte for byte.
#include <cstring>
#include <string>

#include "common/float16.hpp"
#include "model/ggml_types.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::model {
namespace {

constexpr uint64_t QK = kLegacyBlockSize;

void store_u16(uint8_t* p, uint16_t v) { std::memcpy(p, &v, 2); }
void store_u32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, 4); }

template <typename Code>
void check_codes(const char* type, const Code* codes, int lo, int hi) {
  for (uint64_t j = 0; j < QK; ++j)
    if (int(codes[j]) < lo || int(codes[j]) > hi)
      throw Error(std::string("pack ") + type + ": code " + std::to_string(int(codes[j])) + " of element " +
                  std::to_string(j) + " is outside [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
}

// Low nibble of byte j is element j, high nibble element j+16 (ggml's order).
void pack_nibbles(const uint8_t* codes, uint8_t* qs) {
  for (uint64_t j = 0; j < QK / 2; ++j) qs[j] = uint8_t((codes[j] & 0x0F) | ((codes[j + QK / 2] & 0x0F) << 4));
}

// Bit k of qh is bit 4 of element k.
uint32_t high_bits(const uint8_t* codes) {
  uint32_t qh = 0;
  for (uint32_t k = 0; k < QK; ++k) qh |= uint32_t((codes[k] >> 4) & 1u) << k;
  return qh;
}

template <typename Code>
void narrow_block(const int32_t* codes, Code* out, const char* type, int lo, int hi) {
  for (uint64_t j = 0; j < QK; ++j) {
    if (codes[j] < lo || codes[j] > hi)
      throw Error(std::string("pack ") + type + ": code " + std::to_string(codes[j]) + " of element " +
                  std::to_string(j) + " is outside [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    out[j] = Code(codes[j]);
  }
}

}  // namespace

void pack_q8_0_block(float d, const int8_t* codes, uint8_t* dst) {
  check_codes("Q8_0", codes, -127, 127);
  store_u16(dst, float_to_half(d));
  std::memcpy(dst + 2, codes, QK);
}

void pack_q4_0_block(float d, const uint8_t* codes, uint8_t* dst) {
  check_codes("Q4_0", codes, 0, 15);
  store_u16(dst, float_to_half(d));
  pack_nibbles(codes, dst + 2);
}

void pack_q4_1_block(float d, float m, const uint8_t* codes, uint8_t* dst) {
  check_codes("Q4_1", codes, 0, 15);
  store_u16(dst, float_to_half(d));
  store_u16(dst + 2, float_to_half(m));
  pack_nibbles(codes, dst + 4);
}

void pack_q5_0_block(float d, const uint8_t* codes, uint8_t* dst) {
  check_codes("Q5_0", codes, 0, 31);
  store_u16(dst, float_to_half(d));
  store_u32(dst + 2, high_bits(codes));
  pack_nibbles(codes, dst + 6);
}

void pack_q5_1_block(float d, float m, const uint8_t* codes, uint8_t* dst) {
  check_codes("Q5_1", codes, 0, 31);
  store_u16(dst, float_to_half(d));
  store_u16(dst + 2, float_to_half(m));
  store_u32(dst + 4, high_bits(codes));
  pack_nibbles(codes, dst + 8);
}

void pack_row(GgmlType t, const float* d, const float* m, const int32_t* codes, uint64_t n, uint8_t* dst) {
  if (n % QK != 0)
    throw Error(std::string("pack_row: ") + std::to_string(n) + " elements is not a whole number of " +
                ggml_type_name(t) + " blocks of 32");
  const bool packable = t == GgmlType::Q8_0 || t == GgmlType::Q4_0 || t == GgmlType::Q4_1 ||
                        t == GgmlType::Q5_0 || t == GgmlType::Q5_1;
  if (!packable)
    throw Error(std::string("pack_row: type ") + ggml_type_name(t) +
                " has no block packer (packable: Q8_0, Q4_0, Q4_1, Q5_0, Q5_1)");
  const bool has_min = t == GgmlType::Q4_1 || t == GgmlType::Q5_1;
  if (has_min && m == nullptr)
    throw Error(std::string("pack_row: type ") + ggml_type_name(t) + " needs block minimums");
  const uint64_t bytes = ggml_block_bytes(t);
  int8_t signed_codes[QK];
  uint8_t unsigned_codes[QK];
  for (uint64_t b = 0; b < n / QK; ++b, codes += QK, dst += bytes) {
    switch (t) {
      case GgmlType::Q8_0:
        narrow_block(codes, signed_codes, "Q8_0", -127, 127);
        pack_q8_0_block(d[b], signed_codes, dst);
        break;
      case GgmlType::Q4_0:
        narrow_block(codes, unsigned_codes, "Q4_0", 0, 15);
        pack_q4_0_block(d[b], unsigned_codes, dst);
        break;
      case GgmlType::Q4_1:
        narrow_block(codes, unsigned_codes, "Q4_1", 0, 15);
        pack_q4_1_block(d[b], m[b], unsigned_codes, dst);
        break;
      case GgmlType::Q5_0:
        narrow_block(codes, unsigned_codes, "Q5_0", 0, 31);
        pack_q5_0_block(d[b], unsigned_codes, dst);
        break;
      case GgmlType::Q5_1:
        narrow_block(codes, unsigned_codes, "Q5_1", 0, 31);
        pack_q5_1_block(d[b], m[b], unsigned_codes, dst);
        break;
      default:
        break;  // excluded above
    }
  }
}

void encode_float_row(GgmlType t, const float* src, uint8_t* dst, uint64_t n) {
  switch (t) {
    case GgmlType::F32:
      std::memcpy(dst, src, n * sizeof(float));
      return;
    case GgmlType::F16:
      for (uint64_t i = 0; i < n; ++i) store_u16(dst + 2 * i, float_to_half(src[i]));
      return;
    case GgmlType::BF16:
      for (uint64_t i = 0; i < n; ++i) store_u16(dst + 2 * i, float_to_bf16(src[i]));
      return;
    default:
      throw Error(std::string("encode_float_row: type ") + ggml_type_name(t) + " is not F32, F16 or BF16");
  }
}

}  // namespace vkq::model
