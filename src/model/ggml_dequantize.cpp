// CPU decoding of the readable ggml types, operation for operation as ggml's dequantize_row_*
// reference (int code converted to float, times the fp16 scale, plus the min), so results are
// bit-identical. Bytes are read with memcpy: GGUF data need not be aligned for float access.
#include <cstring>
#include <string>

#include "common/float16.hpp"
#include "model/ggml_dequantize_k.hpp"
#include "model/ggml_types.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::model {
namespace {

constexpr uint64_t QK = kLegacyBlockSize;

uint16_t load_u16(const uint8_t* p) { uint16_t v; std::memcpy(&v, p, 2); return v; }
uint32_t load_u32(const uint8_t* p) { uint32_t v; std::memcpy(&v, p, 4); return v; }
float load_half(const uint8_t* p) { return half_to_float(load_u16(p)); }

void dequantize_q8_0(const uint8_t* src, float* dst, uint64_t nb) {
  for (uint64_t i = 0; i < nb; ++i, src += 34, dst += QK) {
    const float d = load_half(src);
    for (uint64_t j = 0; j < QK; ++j) dst[j] = float(int8_t(src[2 + j])) * d;
  }
}

void dequantize_q4_0(const uint8_t* src, float* dst, uint64_t nb) {
  for (uint64_t i = 0; i < nb; ++i, src += 18, dst += QK) {
    const float d = load_half(src);
    const uint8_t* qs = src + 2;
    for (uint64_t j = 0; j < QK / 2; ++j) {
      const int x0 = (qs[j] & 0x0F) - 8;
      const int x1 = (qs[j] >> 4) - 8;
      dst[j] = float(x0) * d;
      dst[j + QK / 2] = float(x1) * d;
    }
  }
}

void dequantize_q4_1(const uint8_t* src, float* dst, uint64_t nb) {
  for (uint64_t i = 0; i < nb; ++i, src += 20, dst += QK) {
    const float d = load_half(src);
    const float m = load_half(src + 2);
    const uint8_t* qs = src + 4;
    for (uint64_t j = 0; j < QK / 2; ++j) {
      const int x0 = qs[j] & 0x0F;
      const int x1 = qs[j] >> 4;
      dst[j] = float(x0) * d + m;
      dst[j + QK / 2] = float(x1) * d + m;
    }
  }
}

void dequantize_q5_0(const uint8_t* src, float* dst, uint64_t nb) {
  for (uint64_t i = 0; i < nb; ++i, src += 22, dst += QK) {
    const float d = load_half(src);
    const uint32_t qh = load_u32(src + 2);
    const uint8_t* qs = src + 6;
    for (uint32_t j = 0; j < QK / 2; ++j) {
      const uint8_t h0 = uint8_t(((qh >> j) << 4) & 0x10);
      const uint8_t h1 = uint8_t((qh >> (j + 12)) & 0x10);
      const int x0 = ((qs[j] & 0x0F) | h0) - 16;
      const int x1 = ((qs[j] >> 4) | h1) - 16;
      dst[j] = float(x0) * d;
      dst[j + QK / 2] = float(x1) * d;
    }
  }
}

void dequantize_q5_1(const uint8_t* src, float* dst, uint64_t nb) {
  for (uint64_t i = 0; i < nb; ++i, src += 24, dst += QK) {
    const float d = load_half(src);
    const float m = load_half(src + 2);
    const uint32_t qh = load_u32(src + 4);
    const uint8_t* qs = src + 8;
    for (uint32_t j = 0; j < QK / 2; ++j) {
      const uint8_t h0 = uint8_t(((qh >> j) << 4) & 0x10);
      const uint8_t h1 = uint8_t((qh >> (j + 12)) & 0x10);
      const int x0 = (qs[j] & 0x0F) | h0;
      const int x1 = (qs[j] >> 4) | h1;
      dst[j] = float(x0) * d + m;
      dst[j + QK / 2] = float(x1) * d + m;
    }
  }
}

}  // namespace

void dequantize_row(GgmlType t, const uint8_t* src, float* dst, uint64_t n) {
  const uint64_t bs = ggml_block_size(t);
  if (n % bs != 0)
    throw Error(std::string("dequantize_row: ") + std::to_string(n) + " elements is not a whole number of " +
                ggml_type_name(t) + " blocks of " + std::to_string(bs));
  switch (t) {
    case GgmlType::F32:
      std::memcpy(dst, src, n * sizeof(float));
      return;
    case GgmlType::F16:
      for (uint64_t i = 0; i < n; ++i) dst[i] = half_to_float(load_u16(src + 2 * i));
      return;
    case GgmlType::BF16:
      for (uint64_t i = 0; i < n; ++i) dst[i] = bf16_to_float(load_u16(src + 2 * i));
      return;
    case GgmlType::Q8_0: dequantize_q8_0(src, dst, n / QK); return;
    case GgmlType::Q4_0: dequantize_q4_0(src, dst, n / QK); return;
    case GgmlType::Q4_1: dequantize_q4_1(src, dst, n / QK); return;
    case GgmlType::Q5_0: dequantize_q5_0(src, dst, n / QK); return;
    case GgmlType::Q5_1: dequantize_q5_1(src, dst, n / QK); return;
    case GgmlType::Q2_K: dequantize_q2_k(src, dst, n / bs); return;
    case GgmlType::Q3_K: dequantize_q3_k(src, dst, n / bs); return;
    case GgmlType::Q4_K: dequantize_q4_k(src, dst, n / bs); return;
    case GgmlType::Q5_K: dequantize_q5_k(src, dst, n / bs); return;
    case GgmlType::Q6_K: dequantize_q6_k(src, dst, n / bs); return;
    case GgmlType::IQ4_NL: dequantize_iq4_nl(src, dst, n / bs); return;
    case GgmlType::IQ4_XS: dequantize_iq4_xs(src, dst, n / bs); return;
    default:
      throw Error(std::string("dequantize_row: type ") + ggml_type_name(t) + " cannot be decoded (readable types: " +
                  kReadableTypes + ")");
  }
}

}  // namespace vkq::model
