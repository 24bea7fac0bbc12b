// Packing codes and quantized sub-block scales/mins into ggml's 256-element super-block layouts
// Q2_K … Q6_K: the inverse of ggml_dequantize_k.cpp, byte for byte (layouts described there).
#include <cstring>
#include <string>

#include "common/float16.hpp"
#include "model/ggml_types.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::model {
namespace {

constexpr int QK_K = 256;

void store_half(uint8_t* p, float v) {
  const uint16_t h = float_to_half(v);
  std::memcpy(p, &h, 2);
}

void check_range(GgmlType t, const char* what, const int32_t* v, int count, int lo, int hi) {
  for (int j = 0; j < count; ++j)
    if (v[j] < lo || v[j] > hi)
      throw Error(std::string("pack ") + ggml_type_name(t) + ": " + what + " " + std::to_string(v[j]) + " of element " +
                  std::to_string(j) + " is outside [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
}

void pack_q2_k(float d, float dmin, const int32_t* sc, const int32_t* mn, const int32_t* u, uint8_t* dst) {
  uint8_t* scales = dst;
  uint8_t* qs = dst + 16;
  for (int k = 0; k < 16; ++k) scales[k] = uint8_t(sc[k] | (mn[k] << 4));
  std::memset(qs, 0, 64);
  for (int e = 0; e < QK_K; ++e) {
    const int chunk = e / 128, w = e % 128;
    qs[chunk * 32 + w % 32] |= uint8_t(u[e] << (2 * (w / 32)));
  }
  store_half(dst + 80, d);
  store_half(dst + 82, dmin);
}

void pack_q3_k(float d, const int32_t* sc, const int32_t* u, uint8_t* dst) {
  uint8_t* hmask = dst;
  uint8_t* qs = dst + 32;
  uint8_t* packed = dst + 96;
  std::memset(dst, 0, 108);
  for (int e = 0; e < QK_K; ++e) {
    const int chunk = e / 128, w = e % 128, j = w / 32, k = w % 32;
    qs[chunk * 32 + k] |= uint8_t((u[e] & 3) << (2 * j));
    if (u[e] >= 4) hmask[k] |= uint8_t(1u << (chunk * 4 + j));  // set: no −4
  }
  for (int j = 0; j < 16; ++j) {
    const int s = sc[j] + 32;  // stored with offset 32
    packed[j % 8] |= uint8_t((s & 0xF) << (j < 8 ? 0 : 4));
    packed[8 + j % 4] |= uint8_t((s >> 4) << (2 * (j / 4)));
  }
  store_half(dst + 108, d);
}

// Q4_K and Q5_K share the header and the nibble order; qh is nullptr for Q4_K.
void pack_q45_k(float d, float dmin, const int32_t* sc, const int32_t* mn, const int32_t* u, uint8_t* dst,
                uint8_t* qh, uint8_t* ql) {
  store_half(dst, d);
  store_half(dst + 2, dmin);
  uint8_t* q = dst + 4;
  for (int j = 0; j < 4; ++j) {
    q[j] = uint8_t(sc[j] | ((sc[j + 4] >> 4) << 6));
    q[j + 4] = uint8_t(mn[j] | ((mn[j + 4] >> 4) << 6));
    q[j + 8] = uint8_t((sc[j + 4] & 0xF) | ((mn[j + 4] & 0xF) << 4));
  }
  if (qh) std::memset(qh, 0, 32);
  for (int p = 0; p < 4; ++p)
    for (int l = 0; l < 32; ++l) {
      const int lo = u[64 * p + l], hi = u[64 * p + 32 + l];
      ql[32 * p + l] = uint8_t((lo & 0xF) | ((hi & 0xF) << 4));
      if (qh) qh[l] |= uint8_t(((lo >> 4) << (2 * p)) | ((hi >> 4) << (2 * p + 1)));
    }
}

void pack_q6_k(float d, const int32_t* sc, const int32_t* u, uint8_t* dst) {
  uint8_t* ql = dst;
  uint8_t* qh = dst + 128;
  std::memset(dst, 0, 192);
  for (int n = 0; n < 2; ++n)
    for (int l = 0; l < 32; ++l) {
      const int32_t* v = u + 128 * n;
      ql[64 * n + l] = uint8_t((v[l] & 0xF) | ((v[l + 64] & 0xF) << 4));
      ql[64 * n + l + 32] = uint8_t((v[l + 32] & 0xF) | ((v[l + 96] & 0xF) << 4));
      qh[32 * n + l] = uint8_t((v[l] >> 4) | ((v[l + 32] >> 4) << 2) | ((v[l + 64] >> 4) << 4) | ((v[l + 96] >> 4) << 6));
    }
  for (int k = 0; k < 16; ++k) dst[192 + k] = uint8_t(int8_t(sc[k]));
  store_half(dst + 208, d);
}

// IQ4_NL: d, then element j in the low nibble of qs[j], element j + 16 in the high one.
void pack_iq4_nl(float d, const int32_t* u, uint8_t* dst) {
  store_half(dst, d);
  for (int j = 0; j < 16; ++j) dst[2 + j] = uint8_t(u[j] | (u[j + 16] << 4));
}

// IQ4_XS: d, scales_h (top 2 bits of each 6-bit scale + 32), scales_l (low nibbles), then 8 IQ4_NL-ordered qs.
void pack_iq4_xs(float d, const int32_t* sc, const int32_t* u, uint8_t* dst) {
  store_half(dst, d);
  uint16_t scales_h = 0;
  uint8_t* scales_l = dst + 4;
  std::memset(scales_l, 0, 4);
  for (int ib = 0; ib < 8; ++ib) {
    const int ls = sc[ib] + 32;
    scales_l[ib / 2] |= uint8_t((ls & 0xF) << (4 * (ib % 2)));
    scales_h |= uint16_t((ls >> 4) << (2 * ib));
    for (int j = 0; j < 16; ++j) dst[8 + 16 * ib + j] = uint8_t(u[32 * ib + j] | (u[32 * ib + j + 16] << 4));
  }
  std::memcpy(dst + 2, &scales_h, 2);
}

}  // namespace

bool is_superblock_type(GgmlType t) {
  return t == GgmlType::Q2_K || t == GgmlType::Q3_K || t == GgmlType::Q4_K || t == GgmlType::Q5_K ||
         t == GgmlType::Q6_K || t == GgmlType::IQ4_NL || t == GgmlType::IQ4_XS;
}

void pack_superblock(GgmlType t, float d, float dmin, const int32_t* scales, const int32_t* mins, const int32_t* codes,
                     uint8_t* dst) {
  switch (t) {
    case GgmlType::Q2_K:
      check_range(t, "code", codes, QK_K, 0, 3);
      check_range(t, "sub-block scale", scales, 16, 0, 15);
      check_range(t, "sub-block min", mins, 16, 0, 15);
      return pack_q2_k(d, dmin, scales, mins, codes, dst);
    case GgmlType::Q3_K:
      check_range(t, "code", codes, QK_K, 0, 7);
      check_range(t, "sub-block scale", scales, 16, -32, 31);
      return pack_q3_k(d, scales, codes, dst);
    case GgmlType::Q4_K:
    case GgmlType::Q5_K: {
      const bool five = t == GgmlType::Q5_K;
      check_range(t, "code", codes, QK_K, 0, five ? 31 : 15);
      check_range(t, "sub-block scale", scales, 8, 0, 63);
      check_range(t, "sub-block min", mins, 8, 0, 63);
      return pack_q45_k(d, dmin, scales, mins, codes, dst, five ? dst + 16 : nullptr, dst + (five ? 48 : 16));
    }
    case GgmlType::Q6_K:
      check_range(t, "code", codes, QK_K, 0, 63);
      check_range(t, "sub-block scale", scales, 16, -128, 127);
      return pack_q6_k(d, scales, codes, dst);
    case GgmlType::IQ4_NL:
      check_range(t, "code", codes, 32, 0, 15);
      return pack_iq4_nl(d, codes, dst);
    case GgmlType::IQ4_XS:
      check_range(t, "code", codes, QK_K, 0, 15);
      check_range(t, "sub-block scale", scales, 8, -32, 31);
      return pack_iq4_xs(d, scales, codes, dst);
    default:
      throw Error(std::string("pack_superblock: type ") + ggml_type_name(t) +
                  " is not a super-block type (Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS)");
  }
}

}  // namespace vkq::model
