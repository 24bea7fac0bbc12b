// Super-block packers: random codes, scales and mins packed, then decoded by dequantize_row (ggml's
// reference decode, bit-exact), must give d·sc·(u − zero) − dmin·m in fp32 for every element.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "common/float16.hpp"
#include "model/ggml_types.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::model {
namespace {

struct Layout {
  GgmlType type;
  int sub, code_hi, zero, sc_lo, sc_hi, mn_hi;  // mn_hi < 0: no mins
};

const Layout kLayouts[] = {
    {GgmlType::Q2_K, 16, 3, 0, 0, 15, 15},    {GgmlType::Q3_K, 16, 7, 4, -32, 31, -1},
    {GgmlType::Q4_K, 32, 15, 0, 0, 63, 63},   {GgmlType::Q5_K, 32, 31, 0, 0, 63, 63},
    {GgmlType::Q6_K, 16, 63, 32, -128, 127, -1}};

class PackSuperBlock : public ::testing::TestWithParam<Layout> {};

TEST_P(PackSuperBlock, DecodesToTheParametersAndCodes) {
  const Layout L = GetParam();
  std::mt19937 rng(7 + int(L.type));
  for (int trial = 0; trial < 50; ++trial) {
    const int nsub = 256 / L.sub;
    std::vector<int32_t> codes(256), sc(nsub), mn(nsub, 0);
    auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
    for (auto& c : codes) c = trial == 0 ? L.code_hi : pick(0, L.code_hi);  // trial 0: every bit set
    for (auto& s : sc) s = trial == 1 ? L.sc_lo : pick(L.sc_lo, L.sc_hi);
    if (L.mn_hi >= 0)
      for (auto& m : mn) m = pick(0, L.mn_hi);
    const float d = round_to_half(std::uniform_real_distribution<float>(-0.02f, 0.02f)(rng));
    const float dmin = round_to_half(std::uniform_real_distribution<float>(0.0f, 0.01f)(rng));
    std::vector<uint8_t> block(ggml_block_bytes(L.type), 0xA5);  // poisoned
    pack_superblock(L.type, d, dmin, sc.data(), mn.data(), codes.data(), block.data());
    std::vector<float> y(256, std::nanf(""));
    dequantize_row(L.type, block.data(), y.data(), 256);
    for (int e = 0; e < 256; ++e) {
      const int k = e / L.sub;
      const float scale = d * float(sc[k]), off = L.mn_hi >= 0 ? dmin * float(mn[k]) : 0.0f;
      const float want = scale * float(codes[e] - L.zero) - off;
      ASSERT_EQ(y[e], want) << ggml_type_name(L.type) << " trial " << trial << " element " << e;
    }
  }
}

TEST_P(PackSuperBlock, OutOfRangeValuesAreNamed) {
  const Layout L = GetParam();
  std::vector<int32_t> codes(256, 0), sc(16, 0), mn(16, 0);
  std::vector<uint8_t> block(ggml_block_bytes(L.type));
  codes[5] = L.code_hi + 1;
  EXPECT_THROW(
      {
        try {
          pack_superblock(L.type, 1, 0, sc.data(), mn.data(), codes.data(), block.data());
        } catch (const Error& e) {
          EXPECT_NE(std::string(e.what()).find("code"), std::string::npos) << e.what();
          throw;
        }
      },
      Error);
  codes[5] = 0;
  sc[0] = L.sc_hi + 1;
  EXPECT_THROW(pack_superblock(L.type, 1, 0, sc.data(), mn.data(), codes.data(), block.data()), Error);
}

INSTANTIATE_TEST_SUITE_P(KTypes, PackSuperBlock, ::testing::ValuesIn(kLayouts),
                         [](const auto& info) { return std::string(ggml_type_name(info.param.type)); });

TEST(PackSuperBlockTypes, LegacyTypeIsRefused) {
  std::vector<int32_t> codes(256, 0), sc(16, 0);
  std::vector<uint8_t> block(256);
  EXPECT_THROW(pack_superblock(GgmlType::Q4_0, 1, 0, sc.data(), nullptr, codes.data(), block.data()), Error);
  EXPECT_TRUE(is_superblock_type(GgmlType::Q6_K));
  EXPECT_TRUE(is_superblock_type(GgmlType::IQ4_XS));
  EXPECT_FALSE(is_superblock_type(GgmlType::Q4_1));
}

}  // namespace
}  // namespace vkq::model

namespace vkq::model {
namespace {

constexpr int kIq4[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

TEST(PackIq4, NlAndXsDecodeToTheGridValues) {
  std::mt19937 rng(11);
  for (int trial = 0; trial < 40; ++trial) {
    std::vector<int32_t> codes(256), sc(16, 0);
    for (auto& c : codes) c = trial == 0 ? 15 : int(rng() % 16);
    for (int k = 0; k < 8; ++k) sc[k] = trial == 1 ? -32 : int(rng() % 64) - 32;
    const float d = round_to_half(std::uniform_real_distribution<float>(-0.02f, 0.02f)(rng));
    std::vector<uint8_t> xs(ggml_block_bytes(GgmlType::IQ4_XS), 0xA5), nl(ggml_block_bytes(GgmlType::IQ4_NL), 0xA5);
    pack_superblock(GgmlType::IQ4_XS, d, 0, sc.data(), nullptr, codes.data(), xs.data());
    pack_superblock(GgmlType::IQ4_NL, d, 0, nullptr, nullptr, codes.data(), nl.data());
    std::vector<float> y(256), z(32);
    dequantize_row(GgmlType::IQ4_XS, xs.data(), y.data(), 256);
    dequantize_row(GgmlType::IQ4_NL, nl.data(), z.data(), 32);
    for (int e = 0; e < 256; ++e) ASSERT_EQ(y[e], d * float(sc[e / 32]) * float(kIq4[codes[e]])) << trial << " " << e;
    for (int e = 0; e < 32; ++e) ASSERT_EQ(z[e], d * float(kIq4[codes[e]])) << trial << " " << e;
  }
  std::vector<int32_t> codes(256, 16), sc(16, 0);
  std::vector<uint8_t> block(200);
  EXPECT_THROW(pack_superblock(GgmlType::IQ4_NL, 1, 0, nullptr, nullptr, codes.data(), block.data()), Error);
}

}  // namespace
}  // namespace vkq::model
