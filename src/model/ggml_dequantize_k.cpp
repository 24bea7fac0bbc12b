// ggml's K-type block layouts (ggml-common.h), decoded as dequantize_row_q*_K does: each float is
// formed with the same operations in the same order (sub-block scale = super scale × 6/8-bit scale,
// then scale × code − min), so the values equal llama.cpp's bit for bit.
#include "model/ggml_dequantize_k.hpp"

#include <cstring>

#include "common/float16.hpp"

namespace vkq::model {
namespace {

constexpr int QK_K = 256;

float load_half(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return half_to_float(v);
}

// Q4_K/Q5_K: eight 6-bit (scale, min) pairs packed into 12 bytes; sub-block j < 4 keeps its low six
// bits in bytes j and j + 4, sub-blocks 4..7 split theirs over byte j + 4 and the top bits of j − 4 / j.
void scale_min_k4(int j, const uint8_t* q, uint8_t& sc, uint8_t& m) {
  if (j < 4) {
    sc = q[j] & 63;
    m = q[j + 4] & 63;
  } else {
    sc = uint8_t((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    m = uint8_t((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

}  // namespace

// block_q2_K: scales[16] (low nibble scale, high nibble min), qs[64] (2 bits), d, dmin.
void dequantize_q2_k(const uint8_t* src, float* y, uint64_t nb) {
  for (uint64_t i = 0; i < nb; ++i, src += 84) {
    const uint8_t* scales = src;
    const uint8_t* q = src + 16;
    const float d = load_half(src + 80), min = load_half(src + 82);
    int is = 0;
    for (int n = 0; n < QK_K; n += 128) {
      for (int shift = 0; shift < 8; shift += 2) {
        for (int half = 0; half < 2; ++half) {
          const uint8_t sc = scales[is++];
          const float dl = d * float(sc & 0xF), ml = min * float(sc >> 4);
          for (int l = 0; l < 16; ++l) *y++ = dl * float(int8_t((q[l + 16 * half] >> shift) & 3)) - ml;
        }
      }
      q += 32;
    }
  }
}

// block_q3_K: hmask[32] (high bit, set = no −4), qs[64] (low 2 bits), scales[12] (sixteen 6-bit
// scales, offset 32), d.
void dequantize_q3_k(const uint8_t* src, float* y, uint64_t nb) {
  for (uint64_t i = 0; i < nb; ++i, src += 110) {
    const uint8_t* hm = src;
    const uint8_t* q = src + 32;
    const uint8_t* packed = src + 96;
    const float d_all = load_half(src + 108);
    // Sixteen 6-bit scales: low 4 bits from bytes 0..7 (low then high nibbles), top 2 bits from bytes 8..11.
    int8_t scales[16];
    for (int j = 0; j < 16; ++j) {
      const int low = j < 8 ? packed[j] & 0xF : packed[j - 8] >> 4;
      const int high = (packed[8 + j % 4] >> (2 * (j / 4))) & 3;
      scales[j] = int8_t(low | (high << 4));
    }
    uint8_t m = 1;
    int is = 0;
    for (int n = 0; n < QK_K; n += 128) {
      for (int shift = 0; shift < 8; shift += 2) {
        for (int half = 0; half < 2; ++half) {
          const float dl = d_all * float(scales[is++] - 32);
          for (int l = 0; l < 16; ++l) {
            const int k = l + 16 * half;
            *y++ = dl * float(int8_t((q[k] >> shift) & 3) - ((hm[k] & m) ? 0 : 4));
          }
        }
        m = uint8_t(m << 1);
      }
      q += 32;
    }
  }
}

// block_q4_K: d, dmin, scales[12] (eight 6-bit scale/min pairs), qs[128] (nibbles: 32 low, then 32
// high); block_q5_K adds qh[32] before qs (the fifth bit of sub-block pair p in bits 2p and 2p + 1).
// One decoder for both: qh is nullptr for Q4_K.
namespace {
void decode_q45_k_block(const uint8_t* block, const uint8_t* qh, const uint8_t* ql, float* y) {
  const float d = load_half(block), min = load_half(block + 2);
  const uint8_t* scales = block + 4;
  uint8_t u1 = 1, u2 = 2;
  for (int is = 0; is < 8; is += 2, ql += 32) {
    uint8_t sc, m;
    scale_min_k4(is, scales, sc, m);
    const float d1 = d * float(sc), m1 = min * float(m);
    scale_min_k4(is + 1, scales, sc, m);
    const float d2 = d * float(sc), m2 = min * float(m);
    for (int l = 0; l < 32; ++l) *y++ = d1 * float((ql[l] & 0xF) + (qh && (qh[l] & u1) ? 16 : 0)) - m1;
    for (int l = 0; l < 32; ++l) *y++ = d2 * float((ql[l] >> 4) + (qh && (qh[l] & u2) ? 16 : 0)) - m2;
    u1 = uint8_t(u1 << 2);
    u2 = uint8_t(u2 << 2);
  }
}
}  // namespace

void dequantize_q4_k(const uint8_t* src, float* y, uint64_t nb) {
  for (uint64_t i = 0; i < nb; ++i, src += 144, y += QK_K) decode_q45_k_block(src, nullptr, src + 16, y);
}

void dequantize_q5_k(const uint8_t* src, float* y, uint64_t nb) {
  for (uint64_t i = 0; i < nb; ++i, src += 176, y += QK_K) decode_q45_k_block(src, src + 16, src + 48, y);
}

// block_q6_K: ql[128] (low 4 bits), qh[64] (high 2 bits), scales[16] (int8), d; codes offset 32.
void dequantize_q6_k(const uint8_t* src, float* y, uint64_t nb) {
  for (uint64_t i = 0; i < nb; ++i, src += 210) {
    const uint8_t* ql = src;
    const uint8_t* qh = src + 128;
    const int8_t* sc = reinterpret_cast<const int8_t*>(src + 192);
    const float d = load_half(src + 208);
    for (int n = 0; n < QK_K; n += 128, y += 128, ql += 64, qh += 32, sc += 8) {
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q1 = int8_t((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = int8_t((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = int8_t((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = int8_t((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        y[l] = d * float(sc[is]) * float(q1);
        y[l + 32] = d * float(sc[is + 2]) * float(q2);
        y[l + 64] = d * float(sc[is + 4]) * float(q3);
        y[l + 96] = d * float(sc[is + 6]) * float(q4);
      }
    }
  }
}

// ggml's 16-value non-linear grid of IQ4_NL and IQ4_XS (kvalues_iq4nl).
constexpr int8_t kIq4nlValues[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

// block_iq4_nl: d, qs[16] (element j low nibble, j + 16 high nibble).
void dequantize_iq4_nl(const uint8_t* src, float* y, uint64_t nb) {
  for (uint64_t i = 0; i < nb; ++i, src += 18, y += 32) {
    const float d = load_half(src);
    const uint8_t* qs = src + 2;
    for (int j = 0; j < 16; ++j) {
      y[j] = d * float(kIq4nlValues[qs[j] & 0xF]);
      y[j + 16] = d * float(kIq4nlValues[qs[j] >> 4]);
    }
  }
}

// block_iq4_xs: d, scales_h (u16: the top 2 bits of eight 6-bit sub-block scales), scales_l[4] (their
// low nibbles), qs[128]; sub-block scale d · (ls − 32).
void dequantize_iq4_xs(const uint8_t* src, float* y, uint64_t nb) {
  for (uint64_t i = 0; i < nb; ++i, src += 136) {
    const float d = load_half(src);
    uint16_t scales_h;
    std::memcpy(&scales_h, src + 2, 2);
    const uint8_t* scales_l = src + 4;
    const uint8_t* qs = src + 8;
    for (int ib = 0; ib < QK_K / 32; ++ib, y += 32, qs += 16) {
      const int ls = ((scales_l[ib / 2] >> (4 * (ib % 2))) & 0xF) | (((scales_h >> (2 * ib)) & 3) << 4);
      const float dl = d * float(ls - 32);
      for (int j = 0; j < 16; ++j) {
        y[j] = dl * float(kIq4nlValues[qs[j] & 0xF]);
        y[j + 16] = dl * float(kIq4nlValues[qs[j] >> 4]);
      }
    }
  }
}

}  // namespace vkq::model
