// The safetensors reader and the checkpoint folder: valid files parse with every tensor where the
// header says; every kind of malformed header is a vkq::Error naming the file and the problem.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>

#include "model/gguf_test_bytes.hpp"
#include "model/hf_checkpoint.hpp"
#include "model/safetensors.hpp"
#include "support/hf_test_checkpoint.hpp"
#include "support/test_seed.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::model {
namespace {

using nlohmann::json;
using test::StTensor;

std::string error_of(const std::vector<uint8_t>& bytes) {
  try {
    SafetensorsFile::from_memory(bytes, "m.safetensors");
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

std::vector<StTensor> sample_tensors() {
  return {{"a.weight", "F32", {2, 3}, test::f32_bytes({1, 2, 3, 4, 5, 6})},
          {"b.bias", "BF16", {2}, test::bf16_bytes({0.5f, -2.0f})},
          {"c.count", "I64", {}, std::vector<uint8_t>(8, 1)}};
}

TEST(Safetensors, ParsesEveryTensorWhereTheHeaderPutsIt) {
  const auto f = SafetensorsFile::from_memory(test::safetensors_bytes(sample_tensors()), "m.safetensors");
  ASSERT_EQ(f.tensors().size(), 3u);
  EXPECT_EQ(f.metadata().at("format"), "pt");
  const auto* a = f.find("a.weight");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->shape, (std::vector<uint64_t>{2, 3}));
  EXPECT_EQ(a->n_bytes, 24u);
  std::vector<float> v(6);
  dequantize_row(safetensors_float_type(*a, "m"), a->data, v.data(), 6);
  EXPECT_EQ(v, (std::vector<float>{1, 2, 3, 4, 5, 6}));
  const auto* b = f.find("b.bias");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(safetensors_float_type(*b, "m"), GgmlType::BF16);
  dequantize_row(GgmlType::BF16, b->data, v.data(), 2);
  EXPECT_EQ(v[0], 0.5f);
  EXPECT_EQ(v[1], -2.0f);
  const auto* c = f.find("c.count");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->n_elements(), 1u);  // a scalar: shape []
  EXPECT_EQ(f.find("missing"), nullptr);
}

TEST(Safetensors, RandomLayoutsRoundTrip) {
  const uint64_t seed = test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  for (int round = 0; round < 20; ++round) {
    std::vector<StTensor> ts;
    const int n = 1 + int(rng() % 6);
    for (int i = 0; i < n; ++i) {
      std::vector<uint64_t> shape(rng() % 4);
      uint64_t count = 1;
      for (auto& d : shape) count *= (d = rng() % 5);  // zero-sized dimensions included
      std::vector<uint8_t> bytes(count * 2);
      for (auto& x : bytes) x = uint8_t(rng());
      ts.push_back({"t" + std::to_string(i), rng() % 2 ? "F16" : "BF16", shape, bytes});
    }
    std::shuffle(ts.begin(), ts.end(), rng);  // data order differs from name order
    const auto f = SafetensorsFile::from_memory(test::safetensors_bytes(ts), "m");
    ASSERT_EQ(f.tensors().size(), ts.size());
    for (const auto& t : ts) {
      const auto* got = f.find(t.name);
      ASSERT_NE(got, nullptr);
      EXPECT_EQ(got->shape, t.shape);
      EXPECT_EQ(got->dtype, t.dtype);
      ASSERT_EQ(got->n_bytes, t.bytes.size());
      EXPECT_TRUE(t.bytes.empty() || std::memcmp(got->data, t.bytes.data(), t.bytes.size()) == 0) << t.name;
    }
  }
}

TEST(Safetensors, MalformedFilesNameTheFileAndTheProblem) {
  auto patched = [](std::function<void(json&)> patch) { return test::safetensors_bytes(sample_tensors(), patch); };
  auto good = test::safetensors_bytes(sample_tensors());
  struct Case {
    const char* what;
    std::vector<uint8_t> bytes;
    const char* problem;
  };
  std::vector<uint8_t> truncated(good.begin(), good.end() - 9);
  std::vector<uint8_t> long_header = good;
  long_header[0] = 0xFF, long_header[1] = 0xFF;
  std::vector<uint8_t> not_json = good;
  not_json[8] = '[';
  std::vector<uint8_t> trailing = good;
  trailing.push_back(0);
  std::vector<Case> cases = {
      {"shorter than 8 bytes", {1, 2, 3}, "shorter than its header length"},
      {"header longer than the file", long_header, "does not fit the file"},
      {"header not JSON", not_json, "not a JSON object"},
      {"data cut off", truncated, "lie outside the data section"},
      {"bytes after the data", trailing, "1 bytes after the last tensor belong to no tensor"},
      {"no dtype", patched([](json& h) { h["a.weight"].erase("dtype"); }), "needs dtype, shape and data_offsets"},
      {"unknown dtype", patched([](json& h) { h["a.weight"]["dtype"] = "F12"; }), "unknown dtype 'F12'"},
      {"negative dimension", patched([](json& h) { h["a.weight"]["shape"] = {2, -3}; }), "not a non-negative integer"},
      {"too many dimensions", patched([](json& h) { h["a.weight"]["shape"] = json(std::vector<int>(9, 1)); }),
       "at most 8"},
      {"absurd shape", patched([](json& h) { h["a.weight"]["shape"] = {uint64_t(1) << 40, uint64_t(1) << 40}; }),
       "absurdly large"},
      {"offsets reversed", patched([](json& h) { h["a.weight"]["data_offsets"] = {24, 0}; }), "lie outside"},
      {"offsets not a pair", patched([](json& h) { h["a.weight"]["data_offsets"] = {0}; }), "not a pair"},
      {"size disagrees with shape", patched([](json& h) { h["a.weight"]["data_offsets"] = {0, 20}; }),
       "span 20 bytes but F32 of this shape needs 24"},
      {"overlap", patched([](json& h) { h["b.bias"]["data_offsets"] = {20, 24}; }), "overlap"},
      {"hole", patched([](json& h) { h["a.weight"]["shape"] = {2, 2}; h["a.weight"]["data_offsets"] = {0, 16}; }),
       "bytes 16 to 24 of the data section belong to no tensor"},
      {"metadata not strings", patched([](json& h) { h["__metadata__"]["n"] = 3; }), "is not a string"},
  };
  for (const auto& c : cases) {
    const std::string msg = error_of(c.bytes);
    EXPECT_NE(msg.find("m.safetensors: "), std::string::npos) << c.what << ": " << msg;
    EXPECT_NE(msg.find(c.problem), std::string::npos) << c.what << ": " << msg;
  }
}

TEST(Safetensors, OnlyFloatDtypesAreWeights) {
  const auto f = SafetensorsFile::from_memory(test::safetensors_bytes(sample_tensors()), "m.safetensors");
  try {
    safetensors_float_type(*f.find("c.count"), "shard.safetensors");
    FAIL() << "I64 accepted as weights";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("shard.safetensors: tensor 'c.count' has dtype I64"), std::string::npos)
        << e.what();
  }
}

class HfCheckpointTest : public testing::Test {
 protected:
  test::TempDir dir_;
  std::string folder_ = dir_.file("ckpt");
  void SetUp() override { test::write_tiny_llama_checkpoint(folder_, "F32", 1); }
  std::string error_of_open() {
    try {
      HfCheckpoint::open(folder_);
    } catch (const Error& e) {
      return e.what();
    }
    return "(no error)";
  }
  void split_into_shards(const std::string& second_shard_name) {
    const auto single = SafetensorsFile::open(folder_ + "/model.safetensors");
    std::vector<StTensor> a, b;
    json index = {{"metadata", json::object()}, {"weight_map", json::object()}};
    for (const auto& t : single.tensors()) {
      auto& part = t.name.find("layers") != std::string::npos ? b : a;
      part.push_back({t.name, t.dtype, t.shape, std::vector<uint8_t>(t.data, t.data + t.n_bytes)});
      index["weight_map"][t.name] = &part == &a ? "model-00001-of-00002.safetensors" : second_shard_name;
    }
    test::write_bytes(folder_ + "/model-00001-of-00002.safetensors", test::safetensors_bytes(a));
    test::write_bytes(folder_ + "/model-00002-of-00002.safetensors", test::safetensors_bytes(b));
    std::filesystem::remove(folder_ + "/model.safetensors");
    test::write_json(folder_ + "/model.safetensors.index.json", index);
  }
};

TEST_F(HfCheckpointTest, FindsTensorsAcrossShards) {
  split_into_shards("model-00002-of-00002.safetensors");
  EXPECT_TRUE(looks_like_hf_checkpoint(folder_));
  const auto ckpt = HfCheckpoint::open(folder_);
  EXPECT_EQ(ckpt.tensor_names().size(), 12u);
  EXPECT_EQ(ckpt.tensor("model.layers.0.mlp.up_proj.weight").shape, (std::vector<uint64_t>{64, 32}));
  EXPECT_NE(ckpt.shard_of("model.layers.0.mlp.up_proj.weight").find("model-00002-of-00002"), std::string::npos);
  EXPECT_NE(ckpt.shard_of("lm_head.weight").find("model-00001-of-00002"), std::string::npos);
  EXPECT_EQ(ckpt.config().value("hidden_size", 0), 32);
}

TEST_F(HfCheckpointTest, AnIndexThatDisagreesWithItsShardsIsAnError) {
  split_into_shards("model-00001-of-00002.safetensors");  // the index places block tensors in the wrong shard
  EXPECT_NE(error_of_open().find("is listed in the index but not in the shard"), std::string::npos) << error_of_open();
}

TEST_F(HfCheckpointTest, MissingPiecesAreNamed) {
  split_into_shards("model-00002-of-00002.safetensors");
  std::filesystem::remove(folder_ + "/model-00002-of-00002.safetensors");
  EXPECT_NE(error_of_open().find("model-00002-of-00002.safetensors: shard missing"), std::string::npos)
      << error_of_open();
  std::filesystem::remove(folder_ + "/model.safetensors.index.json");
  EXPECT_NE(error_of_open().find("no model.safetensors or model.safetensors.index.json"), std::string::npos);
  test::write_bytes(folder_ + "/pytorch_model.bin", {1, 2, 3});
  EXPECT_NE(error_of_open().find("PyTorch pickles"), std::string::npos) << error_of_open();
  std::filesystem::remove(folder_ + "/config.json");
  EXPECT_NE(error_of_open().find("no config.json"), std::string::npos);
  EXPECT_FALSE(looks_like_hf_checkpoint(folder_));
}

TEST_F(HfCheckpointTest, ShardNamesStayInsideTheFolder) {
  test::write_json(folder_ + "/model.safetensors.index.json",
                   {{"weight_map", {{"lm_head.weight", "../elsewhere.safetensors"}}}});
  EXPECT_NE(error_of_open().find("is not a file of the folder"), std::string::npos) << error_of_open();
}

}  // namespace
}  // namespace vkq::model
