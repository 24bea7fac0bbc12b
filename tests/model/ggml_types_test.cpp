// ggml type table, dequantization against hand-computed values and known bytes, and the block
// packers (packed bytes decode to exactly d*(q-8), d*q+m, ...). Comparisons are bit-exact: the
// formulas are the same float operations ggml's reference performs.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "common/float16.hpp"
#include "model/ggml_types.hpp"
#include "support/test_seed.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::model {
namespace {

bool same_bits(float a, float b) { return bits_from_f32(a) == bits_from_f32(b); }

template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(GgmlTypes, IdsMatchGgml) {
  EXPECT_EQ(uint32_t(GgmlType::F32), 0u);
  EXPECT_EQ(uint32_t(GgmlType::Q4_0), 2u);
  EXPECT_EQ(uint32_t(GgmlType::Q5_0), 6u);
  EXPECT_EQ(uint32_t(GgmlType::Q8_0), 8u);
  EXPECT_EQ(uint32_t(GgmlType::Q8_K), 15u);
  EXPECT_EQ(uint32_t(GgmlType::I8), 24u);
  EXPECT_EQ(uint32_t(GgmlType::F64), 28u);
  EXPECT_EQ(uint32_t(GgmlType::BF16), 30u);
  for (uint32_t retired : {4u, 5u, 31u, 32u, 33u, 36u, 37u, 38u, 99u})
    EXPECT_FALSE(ggml_type_from_id(retired)) << retired;
  EXPECT_EQ(ggml_type_from_id(12), GgmlType::Q4_K);
}

TEST(GgmlTypes, NamesRoundTripCaseInsensitively) {
  int known = 0;
  for (uint32_t id = 0; id < 64; ++id) {
    const auto t = ggml_type_from_id(id);
    if (!t) continue;
    ++known;
    const std::string name = ggml_type_name(*t);
    EXPECT_EQ(find_ggml_type(name), t) << name;
    std::string lower = name;
    for (char& c : lower) c = char(std::tolower(c));
    EXPECT_EQ(ggml_type_from_name(lower), *t) << lower;
  }
  EXPECT_EQ(known, 32);
  EXPECT_EQ(ggml_type_from_name("q4_0"), GgmlType::Q4_0);
  EXPECT_EQ(ggml_type_from_name("Q8_0"), GgmlType::Q8_0);
  EXPECT_EQ(ggml_type_from_name("bf16"), GgmlType::BF16);
  EXPECT_EQ(ggml_type_from_name("f16"), GgmlType::F16);
  EXPECT_EQ(ggml_type_from_name("F32"), GgmlType::F32);
  EXPECT_EQ(ggml_type_from_name("q6_k"), GgmlType::Q6_K);
  EXPECT_FALSE(find_ggml_type("Q4_K_M"));  // a llama-quantize mix, not one tensor type
  EXPECT_FALSE(find_ggml_type(""));
  const std::string msg = error_of([] { ggml_type_from_name("Q9_9"); });
  EXPECT_NE(msg.find("unknown ggml type name 'Q9_9'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("Q4_0"), std::string::npos) << msg;
}

TEST(GgmlTypes, BlockGeometryMatchesGgmlStructs) {
  struct Row { GgmlType t; uint64_t block, bytes; };
  const Row rows[] = {
      {GgmlType::F32, 1, 4},       {GgmlType::F16, 1, 2},      {GgmlType::BF16, 1, 2},     {GgmlType::Q4_0, 32, 18},
      {GgmlType::Q4_1, 32, 20},    {GgmlType::Q5_0, 32, 22},   {GgmlType::Q5_1, 32, 24},   {GgmlType::Q8_0, 32, 34},
      {GgmlType::Q8_1, 32, 36},    {GgmlType::Q2_K, 256, 84},  {GgmlType::Q3_K, 256, 110}, {GgmlType::Q4_K, 256, 144},
      {GgmlType::Q5_K, 256, 176},  {GgmlType::Q6_K, 256, 210}, {GgmlType::Q8_K, 256, 292}, {GgmlType::IQ2_XXS, 256, 66},
      {GgmlType::IQ2_XS, 256, 74}, {GgmlType::IQ3_XXS, 256, 98}, {GgmlType::IQ1_S, 256, 50}, {GgmlType::IQ4_NL, 32, 18},
      {GgmlType::IQ3_S, 256, 110}, {GgmlType::IQ2_S, 256, 82}, {GgmlType::IQ4_XS, 256, 136}, {GgmlType::I8, 1, 1},
      {GgmlType::I16, 1, 2},       {GgmlType::I32, 1, 4},      {GgmlType::I64, 1, 8},      {GgmlType::F64, 1, 8},
      {GgmlType::IQ1_M, 256, 56},  {GgmlType::TQ1_0, 256, 54}, {GgmlType::TQ2_0, 256, 66}, {GgmlType::MXFP4, 32, 17},
  };
  for (const Row& r : rows) {
    EXPECT_EQ(ggml_block_size(r.t), r.block) << ggml_type_name(r.t);
    EXPECT_EQ(ggml_block_bytes(r.t), r.bytes) << ggml_type_name(r.t);
  }
  EXPECT_EQ(ggml_row_size(GgmlType::Q4_0, 4096), 4096u / 32 * 18);
  EXPECT_EQ(ggml_row_size(GgmlType::F16, 7), 14u);
  const std::string msg = error_of([] { ggml_row_size(GgmlType::Q4_K, 300); });
  EXPECT_NE(msg.find("not a whole number of Q4_K blocks of 256"), std::string::npos) << msg;
}

TEST(GgmlTypes, ReadableTypesAndTheirErrors) {
  for (GgmlType t : {GgmlType::F32, GgmlType::F16, GgmlType::BF16, GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::Q4_1,
                     GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q4_K, GgmlType::Q5_K,
                     GgmlType::Q6_K, GgmlType::IQ4_NL, GgmlType::IQ4_XS})
    EXPECT_TRUE(is_supported_for_reading(t)) << ggml_type_name(t);
  for (GgmlType t : {GgmlType::Q8_K, GgmlType::IQ2_XXS, GgmlType::Q8_1, GgmlType::IQ3_S, GgmlType::I32, GgmlType::F64})
    EXPECT_FALSE(is_supported_for_reading(t)) << ggml_type_name(t);
  const std::string msg = error_of([] { require_readable(GgmlType::IQ2_XXS, "blk.3.ffn_down.weight"); });
  EXPECT_NE(msg.find("'blk.3.ffn_down.weight'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("type IQ2_XXS"), std::string::npos) << msg;
  EXPECT_NE(msg.find("IQ4_XS"), std::string::npos) << msg;  // the readable list is complete
  std::vector<uint8_t> block(66);
  std::vector<float> out(256);
  EXPECT_THROW(dequantize_row(GgmlType::IQ2_XXS, block.data(), out.data(), 256), Error);
}

// Known bytes, decoded by hand from ggml-common.h's layouts.
TEST(GgmlTypes, DequantizesKnownBytes) {
  std::vector<float> y(32);
  {  // Q8_0: d = 2.0 (0x4000), qs[j] = j - 16
    std::vector<uint8_t> b = {0x00, 0x40};
    for (int j = 0; j < 32; ++j) b.push_back(uint8_t(int8_t(j - 16)));
    dequantize_row(GgmlType::Q8_0, b.data(), y.data(), 32);
    for (int j = 0; j < 32; ++j) EXPECT_EQ(y[j], 2.0f * float(j - 16)) << j;
  }
  {  // Q4_0: d = 1.0, qs[0] = 0x1F: element 0 = 15-8, element 16 = 1-8; other bytes 0x88: 0
    std::vector<uint8_t> b = {0x00, 0x3C, 0x1F};
    b.resize(18, 0x88);
    dequantize_row(GgmlType::Q4_0, b.data(), y.data(), 32);
    EXPECT_EQ(y[0], 7.0f);
    EXPECT_EQ(y[16], -7.0f);
    for (int j : {1, 5, 15, 17, 31}) EXPECT_EQ(y[j], 0.0f) << j;
  }
  {  // Q4_1: d = 0.5 (0x3800), m = -1 (0xBC00), all codes 3 except byte 1 = 0xA0: e1 = 0, e17 = 10
    std::vector<uint8_t> b = {0x00, 0x38, 0x00, 0xBC, 0x33, 0xA0};
    b.resize(20, 0x33);
    dequantize_row(GgmlType::Q4_1, b.data(), y.data(), 32);
    EXPECT_EQ(y[0], 0.5f);
    EXPECT_EQ(y[1], -1.0f);
    EXPECT_EQ(y[17], 4.0f);
    EXPECT_EQ(y[31], 0.5f);
  }
  {  // Q5_0: d = 1, qh = 0x00010001 (bit 4 of elements 0 and 16), nibbles 0
    std::vector<uint8_t> b = {0x00, 0x3C, 0x01, 0x00, 0x01, 0x00};
    b.resize(22, 0x00);
    dequantize_row(GgmlType::Q5_0, b.data(), y.data(), 32);
    EXPECT_EQ(y[0], 0.0f);    // 16 - 16
    EXPECT_EQ(y[16], 0.0f);
    EXPECT_EQ(y[1], -16.0f);  // 0 - 16
    EXPECT_EQ(y[17], -16.0f);
  }
  {  // Q5_1: d = 1, m = 0.5 (0x3800), qh bit 31 (element 31), nibble byte 15 = 0xF0: e31 = 31, e15 = 0
    std::vector<uint8_t> b = {0x00, 0x3C, 0x00, 0x38, 0x00, 0x00, 0x00, 0x80};
    b.resize(24, 0x00);
    b[8 + 15] = 0xF0;
    dequantize_row(GgmlType::Q5_1, b.data(), y.data(), 32);
    EXPECT_EQ(y[31], 31.5f);
    EXPECT_EQ(y[15], 0.5f);
    EXPECT_EQ(y[30], 0.5f);
  }
  {  // F16 and BF16 scalars, including inf and a subnormal
    const uint16_t h[4] = {0x3C00, 0xC000, 0x7C00, 0x0001};
    dequantize_row(GgmlType::F16, reinterpret_cast<const uint8_t*>(h), y.data(), 4);
    EXPECT_EQ(y[0], 1.0f);
    EXPECT_EQ(y[1], -2.0f);
    EXPECT_TRUE(std::isinf(y[2]));
    EXPECT_EQ(y[3], std::ldexp(1.0f, -24));
    const uint16_t bf[2] = {0x3F80, 0xC0A0};
    dequantize_row(GgmlType::BF16, reinterpret_cast<const uint8_t*>(bf), y.data(), 2);
    EXPECT_EQ(y[0], 1.0f);
    EXPECT_EQ(y[1], -5.0f);
  }
}

// K types, decoded by hand from ggml-common.h's block_q4_K / block_q6_K layouts.
TEST(GgmlTypes, DequantizesKnownKBlocks) {
  std::vector<float> y(256);
  {  // Q4_K: d = 1, dmin = 0.5; sub-block 0 (scale 2, min 3) from bytes 0 and 4; sub-block 5's
     // scale 1 | 1<<4 = 17 and min 2 | 2<<4 = 34 split over byte 9 and the top bits of bytes 1 and 5.
    std::vector<uint8_t> b(144, 0);
    b[0] = 0x00, b[1] = 0x3C, b[2] = 0x00, b[3] = 0x38;  // d, dmin
    uint8_t* sc = b.data() + 4;
    sc[0] = 2, sc[4] = 3, sc[9] = 0x21, sc[1] = 0x40, sc[5] = 0x80;
    uint8_t* qs = b.data() + 16;
    qs[0] = 0x5A;   // element 0 (sub-block 0) code 10, element 32 (sub-block 1) code 5
    qs[64] = 0x70;  // element 128 (sub-block 4) code 0, element 160 (sub-block 5) code 7
    dequantize_row(GgmlType::Q4_K, b.data(), y.data(), 256);
    EXPECT_EQ(y[0], 2.0f * 10 - 1.5f);
    EXPECT_EQ(y[1], -1.5f);
    EXPECT_EQ(y[32], 0.0f);  // sub-block 1: scale 0 (low six bits of byte 1), min 0
    EXPECT_EQ(y[160], 17.0f * 7 - 0.5f * 34);
    EXPECT_EQ(y[128], 0.0f);
  }
  {  // Q6_K: d = 0.5; element 0: low nibble 0xF, high bits 1 → 31 − 32 = −1, scale 4; element 64:
     // high nibble 3, high bits (qh >> 4) & 3 = 0 → −29, scale −2; element 96: 0 | 2<<4 → 0, scale 7.
    std::vector<uint8_t> b(210, 0);
    b[0] = 0x3F;        // ql[0]
    b[128] = 0x81;      // qh[0]
    int8_t* sc = reinterpret_cast<int8_t*>(b.data() + 192);
    sc[0] = 4, sc[4] = -2, sc[6] = 7;
    b[208] = 0x00, b[209] = 0x38;  // d = 0.5
    dequantize_row(GgmlType::Q6_K, b.data(), y.data(), 256);
    EXPECT_EQ(y[0], -2.0f);
    EXPECT_EQ(y[64], 29.0f);
    EXPECT_EQ(y[96], 0.0f);
    EXPECT_EQ(y[1], 0.5f * 4 * -32);  // ql = 0, qh = 0: code −32
    EXPECT_EQ(y[16], 0.0f);           // scale sc[1] = 0
  }
}

// Codes 0..31 laid out by hand: nibble byte j = j | (j+16)<<4 (low nibbles 0..15, high 16..31),
// and qh has bit k set exactly for codes with bit 4 set, i.e. elements 16..31.
TEST(GgmlTypes, PackersWriteGgmlByteOrder) {
  uint8_t codes[32];
  for (int k = 0; k < 32; ++k) codes[k] = uint8_t(k);
  uint8_t q5[22];
  pack_q5_0_block(1.0f, codes, q5);
  EXPECT_EQ(q5[0], 0x00);
  EXPECT_EQ(q5[1], 0x3C);
  uint32_t qh;
  std::memcpy(&qh, q5 + 2, 4);
  EXPECT_EQ(qh, 0xFFFF0000u);
  for (int j = 0; j < 16; ++j) EXPECT_EQ(q5[6 + j], uint8_t(j | (j << 4))) << j;

  uint8_t q4[18];
  uint8_t c4[32];
  for (int k = 0; k < 32; ++k) c4[k] = uint8_t(k % 16);
  pack_q4_0_block(-0.5f, c4, q4);
  EXPECT_EQ(q4[0], 0x00);
  EXPECT_EQ(q4[1], 0xB8);
  for (int j = 0; j < 16; ++j) EXPECT_EQ(q4[2 + j], uint8_t(j | (j << 4))) << j;

  uint8_t q8[34];
  int8_t c8[32];
  for (int k = 0; k < 32; ++k) c8[k] = int8_t(k * 8 - 127);
  pack_q8_0_block(0.25f, c8, q8);
  EXPECT_EQ(q8[1], 0x34);
  for (int k = 0; k < 32; ++k) EXPECT_EQ(int8_t(q8[2 + k]), c8[k]);
}

TEST(GgmlTypes, PackersRejectCodesOutOfRange) {
  uint8_t u[32] = {};
  int8_t s[32] = {};
  uint8_t out[34];
  u[7] = 16;
  EXPECT_THROW(pack_q4_0_block(1.0f, u, out), Error);
  EXPECT_THROW(pack_q4_1_block(1.0f, 0.0f, u, out), Error);
  u[7] = 32;
  EXPECT_THROW(pack_q5_0_block(1.0f, u, out), Error);
  EXPECT_THROW(pack_q5_1_block(1.0f, 0.0f, u, out), Error);
  s[3] = -128;
  const std::string msg = error_of([&] { pack_q8_0_block(1.0f, s, out); });
  EXPECT_NE(msg.find("code -128 of element 3 is outside [-127, 127]"), std::string::npos) << msg;
  std::vector<int32_t> codes(32, 0);
  std::vector<float> d(1, 1.0f);
  EXPECT_THROW(pack_row(GgmlType::Q4_K, d.data(), nullptr, codes.data(), 32, out), Error);
  EXPECT_THROW(pack_row(GgmlType::Q4_1, d.data(), nullptr, codes.data(), 32, out), Error);
  EXPECT_THROW(pack_row(GgmlType::Q8_0, d.data(), nullptr, codes.data(), 31, out), Error);
  codes[0] = 300;  // would wrap to 44 in a uint8_t
  EXPECT_THROW(pack_row(GgmlType::Q8_0, d.data(), nullptr, codes.data(), 32, out), Error);
}

struct Spec {
  GgmlType type;
  int lo, hi;       // code range
  int offset;       // x = d * (q - offset) (+ m)
  bool has_min;
};

class PackDequantize : public testing::TestWithParam<Spec> {};

// Random codes and fp16 parameters packed with pack_row, decoded with dequantize_row, must equal
// the formula evaluated here in the same float operations, bit for bit.
TEST_P(PackDequantize, RoundTripsRandomBlocks) {
  const Spec sp = GetParam();
  const uint64_t seed = test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  for (uint64_t blocks : {1u, 2u, 7u, 33u}) {
    const uint64_t n = blocks * 32;
    std::uniform_int_distribution<int> code(sp.lo, sp.hi);
    std::uniform_real_distribution<float> param(-3.0f, 3.0f);
    std::vector<int32_t> codes(n);
    for (auto& c : codes) c = code(rng);
    std::vector<float> d(blocks), m(blocks);
    for (uint64_t b = 0; b < blocks; ++b) {
      d[b] = round_to_half(param(rng) * 0.01f);
      m[b] = round_to_half(param(rng));
    }
    std::vector<uint8_t> packed(ggml_row_size(sp.type, n), 0xEE);
    pack_row(sp.type, d.data(), sp.has_min ? m.data() : nullptr, codes.data(), n, packed.data());
    std::vector<float> got = test::poisoned(n);
    dequantize_row(sp.type, packed.data(), got.data(), n);
    for (uint64_t i = 0; i < n; ++i) {
      const float q = float(codes[i] - sp.offset);
      const float want = sp.has_min ? q * d[i / 32] + m[i / 32] : q * d[i / 32];
      ASSERT_TRUE(same_bits(got[i], want))
          << ggml_type_name(sp.type) << " element " << i << ": " << got[i] << " vs " << want;
    }
    // pack_row is the block packers applied in turn.
    std::vector<uint8_t> by_block(packed.size());
    for (uint64_t b = 0; b < blocks; ++b) {
      uint8_t* dst = by_block.data() + b * ggml_block_bytes(sp.type);
      std::vector<uint8_t> u(codes.begin() + long(b * 32), codes.begin() + long(b * 32 + 32));
      std::vector<int8_t> s(codes.begin() + long(b * 32), codes.begin() + long(b * 32 + 32));
      switch (sp.type) {
        case GgmlType::Q8_0: pack_q8_0_block(d[b], s.data(), dst); break;
        case GgmlType::Q4_0: pack_q4_0_block(d[b], u.data(), dst); break;
        case GgmlType::Q4_1: pack_q4_1_block(d[b], m[b], u.data(), dst); break;
        case GgmlType::Q5_0: pack_q5_0_block(d[b], u.data(), dst); break;
        case GgmlType::Q5_1: pack_q5_1_block(d[b], m[b], u.data(), dst); break;
        default: FAIL();
      }
    }
    EXPECT_EQ(by_block, packed);
  }
}

INSTANTIATE_TEST_SUITE_P(LegacyTypes, PackDequantize,
                         testing::Values(Spec{GgmlType::Q8_0, -127, 127, 0, false},
                                         Spec{GgmlType::Q4_0, 0, 15, 8, false}, Spec{GgmlType::Q4_1, 0, 15, 0, true},
                                         Spec{GgmlType::Q5_0, 0, 31, 16, false}, Spec{GgmlType::Q5_1, 0, 31, 0, true}),
                         [](const testing::TestParamInfo<Spec>& info) {
                           return std::string(ggml_type_name(info.param.type));
                         });

TEST(GgmlTypes, EncodesFloatRows) {
  const uint64_t seed = test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  const std::vector<float> x = test::random_floats(rng, 100, -70000.f, 70000.f);
  for (GgmlType t : {GgmlType::F32, GgmlType::F16, GgmlType::BF16}) {
    std::vector<uint8_t> bytes(ggml_row_size(t, x.size()));
    encode_float_row(t, x.data(), bytes.data(), x.size());
    std::vector<float> y(x.size());
    dequantize_row(t, bytes.data(), y.data(), x.size());
    for (size_t i = 0; i < x.size(); ++i) {
      const float want = t == GgmlType::F32   ? x[i]
                         : t == GgmlType::F16 ? round_to_half(x[i])
                                              : bf16_to_float(float_to_bf16(x[i]));
      ASSERT_TRUE(same_bits(y[i], want)) << ggml_type_name(t) << " " << i;
    }
  }
  uint8_t out[4];
  EXPECT_THROW(encode_float_row(GgmlType::Q8_0, x.data(), out, 1), Error);
}

}  // namespace
}  // namespace vkq::model
