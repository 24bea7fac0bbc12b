// Architecture config from GGUF metadata and llama2.c headers, and the ModelWeights view:
// stories260K from both sources, and clear errors for an unknown architecture, a missing key,
// an unsupported rope scaling, a wrong tensor shape and a non-finite weight.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>

#include "model/gguf.hpp"
#include "model/gguf_test_bytes.hpp"
#include "model/llama2c.hpp"
#include "model/llama_config.hpp"
#include "model/model_weights.hpp"
#include "support/test_seed.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq {
namespace {

using VT = model::GgufValueType;

struct Kv {
  std::string key;
  VT type;
  std::string s;
  double num = 0;
};

// A GGUF with the given metadata and one F32 token_embd of 8 columns x 4 rows (values `fill`).
model::GgufFile make_gguf(const std::vector<Kv>& kvs, float fill = 0.5f, const std::string& name = "synthetic.gguf") {
  test::GgufBytes g;
  g.header(3, 1, kvs.size());
  for (const auto& kv : kvs) {
    g.key(kv.key, kv.type);
    if (kv.type == VT::STRING) g.str(kv.s);
    else if (kv.type == VT::UINT32) g.pod<uint32_t>(uint32_t(kv.num));
    else g.pod<float>(float(kv.num));
  }
  g.tensor_info("token_embd.weight", {8, 4}, model::GgmlType::F32, 0);
  g.pad_to(32);
  for (int i = 0; i < 32; ++i) g.pod<float>(i == 13 ? fill : 0.5f);
  return model::GgufFile::from_memory(g.bytes, name);
}

std::vector<Kv> llama_kvs() {
  return {{"general.architecture", VT::STRING, "llama"},
          {"llama.embedding_length", VT::UINT32, "", 8},
          {"llama.feed_forward_length", VT::UINT32, "", 20},
          {"llama.block_count", VT::UINT32, "", 2},
          {"llama.attention.head_count", VT::UINT32, "", 4},
          {"llama.attention.head_count_kv", VT::UINT32, "", 2},
          {"llama.attention.layer_norm_rms_epsilon", VT::FLOAT32, "", 1e-6},
          {"llama.context_length", VT::UINT32, "", 128}};
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(LlamaConfig, Stories260KFromGguf) {
  auto f = model::GgufFile::open(test::data_path("tinystories-260k/stories260K.gguf"));
  const auto c = model::llama_config_from_gguf(f);
  EXPECT_EQ(c.dim, 64u);
  EXPECT_EQ(c.hidden_dim, 172u);
  EXPECT_EQ(c.n_layers, 5u);
  EXPECT_EQ(c.n_heads, 8u);
  EXPECT_EQ(c.n_kv_heads, 4u);
  EXPECT_EQ(c.head_dim, 8u);
  EXPECT_EQ(c.rope_dim, 8u);
  EXPECT_EQ(c.vocab_size, 512u);
  EXPECT_EQ(c.context_length, 2048u);
  EXPECT_DOUBLE_EQ(c.rope_freq_base, 10000.0);
  EXPECT_DOUBLE_EQ(c.rope_scale, 1.0);
  EXPECT_NEAR(c.rms_eps, 1e-5, 1e-12);
  EXPECT_EQ(c.rope_layout, model::RopeLayout::Normal);
  EXPECT_EQ(c.kv_dim(), 32u);
}

TEST(LlamaConfig, Stories260KFromLlama2cMatchesGguf) {
  const std::string path = test::data_path("tinystories-260k/stories260K.bin");
  auto w = model::ModelWeights::open(path);
  auto g = model::ModelWeights::open(test::data_path("tinystories-260k/stories260K.gguf"));
  const auto& c = w.config();
  EXPECT_EQ(w.gguf(), nullptr);
  ASSERT_NE(g.gguf(), nullptr);
  EXPECT_EQ(c.dim, 64u);
  EXPECT_EQ(c.n_kv_heads, 4u);
  EXPECT_EQ(c.context_length, 512u);  // the checkpoint's own seq_len
  for (uint32_t b = 0; b < c.n_layers; ++b)
    for (const char* name : model::kBlockLinears) {
      const auto x = w.linear(b, name), y = g.linear(b, name);
      EXPECT_EQ(x.rows, y.rows);
      EXPECT_EQ(x.data, y.data) << "blk." << b << "." << name;
    }
  EXPECT_EQ(w.output().data, g.output().data);
  EXPECT_EQ(w.output_norm(), g.output_norm());
}

TEST(LlamaConfig, SyntheticGgufDefaults) {
  auto c = model::llama_config_from_gguf(make_gguf(llama_kvs()));
  EXPECT_EQ(c.head_dim, 2u);
  EXPECT_EQ(c.rope_dim, 2u);  // rope.dimension_count defaults to the head size
  EXPECT_EQ(c.vocab_size, 4u);
  EXPECT_DOUBLE_EQ(c.rope_freq_base, 10000.0);
}

// Mixtral's block (llama with expert_count) and qwen3moe (expert width from expert_feed_forward_length, else
// feed_forward_length / expert_used_count, as llama.cpp); what the forward pass does not run is refused by name.
TEST(LlamaConfig, MixtureOfExperts) {
  auto kvs = llama_kvs();
  kvs.push_back({"llama.expert_count", VT::UINT32, "", 8});
  kvs.push_back({"llama.expert_used_count", VT::UINT32, "", 2});
  auto c = model::llama_config_from_gguf(make_gguf(kvs));
  EXPECT_TRUE(c.moe());
  EXPECT_EQ(c.n_experts, 8u);
  EXPECT_EQ(c.n_experts_used, 2u);
  EXPECT_EQ(c.hidden_dim, 20u);
  EXPECT_EQ(model::linear_shape(c, "ffn_down").cols, 20u);
  EXPECT_FALSE(model::llama_config_from_gguf(make_gguf(llama_kvs())).moe());

  auto q = llama_kvs();
  for (auto& kv : q)
    if (kv.key.rfind("llama.", 0) == 0) kv.key = "qwen3moe." + kv.key.substr(6);
  q[0].s = "qwen3moe";
  q.push_back({"qwen3moe.expert_count", VT::UINT32, "", 4});
  q.push_back({"qwen3moe.expert_used_count", VT::UINT32, "", 2});
  c = model::llama_config_from_gguf(make_gguf(q));
  EXPECT_EQ(c.hidden_dim, 10u);  // 20 / 2
  EXPECT_TRUE(c.qk_norm);
  EXPECT_EQ(c.rope_layout, model::RopeLayout::NeoX);
  q.push_back({"qwen3moe.expert_feed_forward_length", VT::UINT32, "", 6});
  EXPECT_EQ(model::llama_config_from_gguf(make_gguf(q)).hidden_dim, 6u);

  auto bad = kvs;
  bad[bad.size() - 1].num = 9;  // more experts per token than there are
  std::string msg = error_of([&] { model::llama_config_from_gguf(make_gguf(bad, 0.5f, "m.gguf")); });
  EXPECT_NE(msg.find("expert_used_count 9 exceeds expert_count 8"), std::string::npos) << msg;
  bad = kvs;
  bad.pop_back();
  msg = error_of([&] { model::llama_config_from_gguf(make_gguf(bad, 0.5f, "m.gguf")); });
  EXPECT_NE(msg.find("llama.expert_used_count"), std::string::npos) << msg;
  bad = kvs;
  bad.push_back({"llama.expert_shared_count", VT::UINT32, "", 1});
  msg = error_of([&] { model::llama_config_from_gguf(make_gguf(bad, 0.5f, "m.gguf")); });
  EXPECT_NE(msg.find("shared experts"), std::string::npos) << msg;
  EXPECT_NE(msg.find("m.gguf"), std::string::npos) << msg;
}

TEST(LlamaConfig, UnknownArchitectureNamesItAndTheFile) {
  auto kvs = llama_kvs();
  kvs[0].s = "mamba";
  const std::string msg = error_of([&] { model::llama_config_from_gguf(make_gguf(kvs, 0.5f, "m.gguf")); });
  EXPECT_NE(msg.find("mamba"), std::string::npos) << msg;
  EXPECT_NE(msg.find("m.gguf"), std::string::npos) << msg;
}

TEST(LlamaConfig, MissingKeyNamesItAndTheFile) {
  for (size_t drop : {1u, 2u, 3u, 4u, 6u, 7u}) {
    auto kvs = llama_kvs();
    const std::string key = kvs[drop].key;
    kvs.erase(kvs.begin() + drop);
    const std::string msg = error_of([&] { model::llama_config_from_gguf(make_gguf(kvs, 0.5f, "k.gguf")); });
    EXPECT_NE(msg.find(key), std::string::npos) << msg;
    EXPECT_NE(msg.find("k.gguf"), std::string::npos) << msg;
  }
}

TEST(LlamaConfig, RopeScaling) {
  auto kvs = llama_kvs();
  kvs.push_back({"llama.rope.scaling.type", VT::STRING, "linear"});
  kvs.push_back({"llama.rope.scaling.factor", VT::FLOAT32, "", 4.0});
  kvs.push_back({"llama.rope.freq_base", VT::FLOAT32, "", 500000.0});
  auto c = model::llama_config_from_gguf(make_gguf(kvs));
  EXPECT_DOUBLE_EQ(c.rope_scale, 4.0);
  EXPECT_DOUBLE_EQ(c.rope_freq_base, 500000.0);
  kvs.pop_back();
  kvs.pop_back();  // linear without its factor
  EXPECT_NE(error_of([&] { model::llama_config_from_gguf(make_gguf(kvs)); }).find("rope.scaling.factor"),
            std::string::npos);
  kvs.back().s = "yarn";
  EXPECT_NE(error_of([&] { model::llama_config_from_gguf(make_gguf(kvs)); }).find("yarn"), std::string::npos);
}

TEST(LlamaConfig, InconsistentHeadsRejected) {
  auto kvs = llama_kvs();
  kvs[5].num = 3;  // 4 heads over 3 kv heads
  EXPECT_NE(error_of([&] { model::llama_config_from_gguf(make_gguf(kvs)); }).find("head_count"), std::string::npos);
}

// The rows of an embedding kept off the device come straight from the mapped file: the same values as the
// whole table, from a GGUF and from a llama2.c checkpoint; a bad id and a non-finite row are errors.
TEST(ModelWeights, EmbeddingRowsAreTheTableRows) {
  const uint64_t seed = test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937_64 rng(seed);
  for (const char* file : {"tinystories-260k/stories260K.gguf", "tinystories-260k/stories260K.bin"}) {
    SCOPED_TRACE(file);
    auto w = model::ModelWeights::open(test::data_path(file));
    const auto table = w.token_embedding();
    const uint32_t d = table.cols, vocab = table.rows;
    std::vector<int32_t> ids = {0, int32_t(vocab - 1)};
    for (int i = 0; i < 37; ++i) ids.push_back(int32_t(rng() % vocab));
    std::vector<float> rows = test::poisoned(ids.size() * d);
    w.token_embedding_rows(ids, rows.data());
    for (size_t i = 0; i < ids.size(); ++i)
      for (uint32_t j = 0; j < d; ++j)
        ASSERT_EQ(rows[i * d + j], table.data[size_t(ids[i]) * d + j]) << "id " << ids[i] << ", column " << j;
    const std::string msg = error_of([&] { w.token_embedding_rows({int32_t(vocab)}, rows.data()); });
    EXPECT_NE(msg.find("outside the vocabulary"), std::string::npos) << msg;
  }
  auto nan = model::ModelWeights::from_gguf(make_gguf(llama_kvs(), std::numeric_limits<float>::infinity(), "nan.gguf"));
  std::vector<float> row(nan.config().dim * 2);
  const std::string msg = error_of([&] { nan.token_embedding_rows({0, 1}, row.data()); });
  EXPECT_NE(msg.find("token_embd.weight"), std::string::npos) << msg;
  EXPECT_NE(msg.find("non-finite"), std::string::npos) << msg;
}

TEST(ModelWeights, ShapeAndNonFiniteErrorsNameTheTensor) {
  auto w = model::ModelWeights::from_gguf(make_gguf(llama_kvs(), std::numeric_limits<float>::infinity(), "nan.gguf"));
  std::string msg = error_of([&] { w.token_embedding(); });
  EXPECT_NE(msg.find("token_embd.weight"), std::string::npos) << msg;
  EXPECT_NE(msg.find("non-finite"), std::string::npos) << msg;
  msg = error_of([&] { w.tensor("token_embd.weight", 8, 4); });
  EXPECT_NE(msg.find("token_embd.weight"), std::string::npos) << msg;
  EXPECT_NE(msg.find("expected 8 x 4"), std::string::npos) << msg;
  msg = error_of([&] { w.linear(0, "attn_q"); });
  EXPECT_NE(msg.find("blk.0.attn_q.weight"), std::string::npos) << msg;
  msg = error_of([&] { w.linear(0, "attn_z"); });
  EXPECT_NE(msg.find("attn_z"), std::string::npos) << msg;
}

}  // namespace
}  // namespace vkq
