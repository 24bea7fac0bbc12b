// An independent reader agrees with our writer: quantize random weights with the grids, pack them
// as GGUF blocks, write the file, and let the PyPI `gguf` package dequantize every tensor with its
// own code; its values must equal our dequantized values bit for bit. The K types we only read
// (Q2_K … Q6_K, random blocks) are decoded by both and compared the same way. Skipped, with the reason,
// when the Python environment (created by the ctest fixture python.venv) is missing.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "common/float16.hpp"
#include "io/gguf_writer.hpp"
#include "model/ggml_types.hpp"
#include "model/gguf.hpp"
#include "reference/grid.hpp"
#include "reference/superblock.hpp"
#include "support/skip_unless_ci.hpp"
#include "support/test_seed.hpp"

#ifndef VKQ_PYTHON
#define VKQ_PYTHON ""
#endif
#ifndef VKQ_SOURCE_DIR
#define VKQ_SOURCE_DIR ""
#endif

namespace vkq {
namespace {

namespace fs = std::filesystem;

struct Format {
  model::GgmlType type;
  ref::GridFormat grid;
};

TEST(GgufIndependentReader, PythonGgufDequantizesOurTensorsBitForBit) {
  const std::string python = VKQ_PYTHON;
  if (python.empty() || !fs::exists(python)) VKQ_SKIP_UNLESS_CI("no Python environment with the gguf package (" << python << ")");
  const uint64_t seed = test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  const fs::path dir = fs::temp_directory_path() / ("vkq-xcheck-" + std::to_string(seed));
  fs::create_directories(dir);
  const size_t rows = 7, cols = 96;
  const Format formats[] = {{model::GgmlType::Q8_0, ref::GridFormat::Q8_0}, {model::GgmlType::Q4_0, ref::GridFormat::Q4_0},
                            {model::GgmlType::Q4_1, ref::GridFormat::Q4_1}, {model::GgmlType::Q5_0, ref::GridFormat::Q5_0},
                            {model::GgmlType::Q5_1, ref::GridFormat::Q5_1}};
  {
    io::GgufWriter writer((dir / "out.gguf").string());
    writer.add_string("general.architecture", "llama");
    writer.add_string("general.name", "vkquant cross-check");
    for (const auto& f : formats) {
      auto w = test::random_floats(rng, rows * cols, -2.f, 2.f);
      std::vector<double> wd(w.begin(), w.end());
      ref::GridSpec spec;
      spec.format = f.grid;
      spec.group = 32;
      const auto enc = ref::encode_matrix(wd.data(), rows, cols, spec);
      const size_t row_bytes = model::ggml_row_size(f.type, cols);
      std::vector<uint8_t> bytes(rows * row_bytes);
      std::vector<float> ours(rows * cols);
      for (size_t r = 0; r < rows; ++r) {
        std::vector<float> d, m;
        for (size_t g = 0; g < enc.groups_per_row; ++g) {
          d.push_back(float(enc.params[r * enc.groups_per_row + g].scale));
          m.push_back(float(enc.params[r * enc.groups_per_row + g].min));
        }
        model::pack_row(f.type, d.data(), m.data(), &enc.codes[r * cols], cols, &bytes[r * row_bytes]);
        model::dequantize_row(f.type, &bytes[r * row_bytes], &ours[r * cols], cols);
      }
      const std::string name = std::string("w_") + model::ggml_type_name(f.type);
      std::ofstream(dir / (name + ".f32"), std::ios::binary).write(reinterpret_cast<const char*>(ours.data()),
                                                                   std::streamsize(ours.size() * 4));
      writer.add_tensor(name, {cols, rows}, f.type, std::move(bytes));
    }
    // K and IQ4 types (read only: requantization inputs): random bytes with finite fp16 block scales at
    // their offsets in the block, decoded by us and by the gguf package.
    struct KType {
      model::GgmlType type;
      std::vector<size_t> half_offsets;
    };
    const KType ktypes[] = {{model::GgmlType::Q2_K, {80, 82}}, {model::GgmlType::Q3_K, {108}},
                            {model::GgmlType::Q4_K, {0, 2}},   {model::GgmlType::Q5_K, {0, 2}},
                            {model::GgmlType::Q6_K, {208}},    {model::GgmlType::IQ4_NL, {0}},
                            {model::GgmlType::IQ4_XS, {0}}};
    const size_t kcols = 512, krows = 3;
    for (const auto& k : ktypes) {
      const size_t block_bytes = model::ggml_block_bytes(k.type);
      std::vector<uint8_t> bytes(model::ggml_row_size(k.type, kcols) * krows);
      for (auto& b : bytes) b = uint8_t(rng());
      for (size_t blk = 0; blk < bytes.size() / block_bytes; ++blk)
        for (size_t off : k.half_offsets) {
          const uint16_t h = float_to_half(test::random_floats(rng, 1, -0.1f, 0.1f)[0]);
          std::memcpy(&bytes[blk * block_bytes + off], &h, 2);
        }
      std::vector<float> ours(krows * kcols);
      model::dequantize_row(k.type, bytes.data(), ours.data(), krows * kcols);
      const std::string name = std::string("w_") + model::ggml_type_name(k.type);
      std::ofstream(dir / (name + ".f32"), std::ios::binary).write(reinterpret_cast<const char*>(ours.data()),
                                                                   std::streamsize(ours.size() * 4));
      writer.add_tensor(name, {kcols, krows}, k.type, std::move(bytes));
    }
    // Super-block types as vkquant writes them: the super-block search, its codes, pack_superblock.
    for (ref::SuperBlock sb : {ref::SuperBlock::Q2_K, ref::SuperBlock::Q3_K, ref::SuperBlock::Q4_K, ref::SuperBlock::Q5_K,
                               ref::SuperBlock::Q6_K, ref::SuperBlock::IQ4_NL, ref::SuperBlock::IQ4_XS}) {
      const model::GgmlType type = *model::find_ggml_type(ref::superblock_name(sb));
      auto w = test::random_floats(rng, krows * kcols, -1.f, 1.f);
      const std::vector<double> wd(w.begin(), w.end());
      const auto found = ref::superblock_search(wd.data(), krows, kcols, sb, nullptr);
      const auto enc = ref::encode_with_params(wd.data(), krows, kcols, ref::superblock_grid(sb), found.params);
      const size_t block_bytes = model::ggml_block_bytes(type);
      std::vector<uint8_t> bytes(model::ggml_row_size(type, kcols) * krows);
      for (size_t b = 0; b < found.blocks.size(); ++b)
        model::pack_superblock(type, float(found.blocks[b].d), float(found.blocks[b].dmin), found.blocks[b].scale,
                               found.blocks[b].min, &enc.codes[b * model::ggml_block_size(type)], &bytes[b * block_bytes]);
      std::vector<float> ours(krows * kcols);
      model::dequantize_row(type, bytes.data(), ours.data(), krows * kcols);
      const auto want = ref::decode_matrix(enc, ref::superblock_grid(sb));  // float64: within fp32 rounding
      for (size_t k = 0; k < ours.size(); ++k) ASSERT_NEAR(ours[k], want[k], 1e-6 * (1 + std::abs(want[k]))) << k;
      const std::string name = std::string("w_") + ref::superblock_name(sb) + "_encoded";
      std::ofstream(dir / (name + ".f32"), std::ios::binary).write(reinterpret_cast<const char*>(ours.data()),
                                                                   std::streamsize(ours.size() * 4));
      writer.add_tensor(name, {kcols, krows}, type, std::move(bytes));
    }
    auto f16 = test::random_floats(rng, rows * cols);
    std::vector<uint8_t> f16_bytes(model::ggml_row_size(model::GgmlType::F16, cols) * rows);
    model::encode_float_row(model::GgmlType::F16, f16.data(), f16_bytes.data(), rows * cols);
    std::vector<float> f16_ours(rows * cols);
    model::dequantize_row(model::GgmlType::F16, f16_bytes.data(), f16_ours.data(), rows * cols);
    std::ofstream(dir / "w_F16.f32", std::ios::binary).write(reinterpret_cast<const char*>(f16_ours.data()),
                                                             std::streamsize(f16_ours.size() * 4));
    writer.add_tensor("w_F16", {cols, rows}, model::GgmlType::F16, std::move(f16_bytes));
    writer.write();
  }
  const std::string cmd = python + " " + VKQ_SOURCE_DIR + "/tests/python/gguf_cross_check.py " +
                          (dir / "out.gguf").string() + " " + dir.string() + " 2>&1";
  FILE* pipe = ::popen(cmd.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char buf[512];
  while (std::fgets(buf, sizeof buf, pipe)) output += buf;
  const int status = ::pclose(pipe);
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::printf("%s", output.c_str());
  fs::remove_all(dir);
  if (code == 77) VKQ_SKIP_UNLESS_CI(output);
  EXPECT_EQ(code, 0) << output;
}

}  // namespace
}  // namespace vkq
