// A Hugging Face checkpoint as a GGUF: tensor names, llama.cpp's q/k row permutation, types kept or
// converted, tokenizer metadata; and `convert`'s writer (types, --force). The bit-for-bit agreement with
// llama.cpp's own converter is the interop.hf_* tests; these pin the pieces on a hand-made checkpoint.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "common/float16.hpp"
#include "io/hf_architecture.hpp"
#include "io/hf_gguf.hpp"
#include "model/gguf.hpp"
#include "model/gguf_test_bytes.hpp"
#include "support/hf_test_checkpoint.hpp"
#include "support/test_seed.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::io {
namespace {

using model::GgmlType;

class HfGguf : public testing::Test {
 protected:
  test::TempDir dir_;
  std::string folder_ = dir_.file("TinyLlama");
};

// HF row (h*2 + j)*half + r of a q/k projection is llama.cpp's row (h*half + r)*2 + j.
std::vector<float> permuted_reference(const std::vector<float>& w, uint32_t rows, uint32_t cols, uint32_t heads) {
  const uint32_t half = rows / heads / 2;
  std::vector<float> out(w.size());
  for (uint32_t h = 0; h < heads; ++h)
    for (uint32_t j = 0; j < 2; ++j)
      for (uint32_t r = 0; r < half; ++r)
        for (uint32_t c = 0; c < cols; ++c)
          out[size_t((h * half + r) * 2 + j) * cols + c] = w[size_t((h * 2 + j) * half + r) * cols + c];
  return out;
}

TEST_F(HfGguf, TensorsMapToGgufNamesWithQkRowsPermuted) {
  const uint64_t seed = test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  const auto m = test::write_tiny_llama_checkpoint(folder_, "F32", seed);
  const model::GgufFile f = hf_as_gguf(folder_);
  EXPECT_EQ(f.tensors().size(), m.tensors.size());
  const std::pair<const char*, const char*> plain[] = {
      {"model.embed_tokens.weight", "token_embd.weight"}, {"lm_head.weight", "output.weight"},
      {"model.layers.0.self_attn.v_proj.weight", "blk.0.attn_v.weight"},
      {"model.layers.0.self_attn.o_proj.weight", "blk.0.attn_output.weight"},
      {"model.layers.0.mlp.down_proj.weight", "blk.0.ffn_down.weight"},
      {"model.layers.0.post_attention_layernorm.weight", "blk.0.ffn_norm.weight"},
      {"model.norm.weight", "output_norm.weight"}};
  for (const auto& [hf, gg] : plain) EXPECT_EQ(f.read_f32(f.tensor(gg)), m.tensors.at(hf).second) << gg;
  const auto& q = m.tensors.at("model.layers.0.self_attn.q_proj.weight").second;
  const auto& k = m.tensors.at("model.layers.0.self_attn.k_proj.weight").second;
  EXPECT_EQ(f.read_f32(f.tensor("blk.0.attn_q.weight")), permuted_reference(q, m.heads * m.head_dim, m.dim, m.heads));
  EXPECT_EQ(f.read_f32(f.tensor("blk.0.attn_k.weight")),
            permuted_reference(k, m.kv_heads * m.head_dim, m.dim, m.kv_heads));
  EXPECT_EQ(f.tensor("blk.0.ffn_up.weight").dims, (std::vector<uint64_t>{m.dim, m.ff}));  // GGUF order
}

TEST_F(HfGguf, TokenizerAndHyperParametersAsLlamaCppWritesThem) {
  test::write_tiny_llama_checkpoint(folder_, "F32", 3);
  const model::GgufFile f = hf_as_gguf(folder_);
  EXPECT_EQ(f.get_string("general.architecture"), "llama");
  EXPECT_EQ(f.get_string("general.name"), "TinyLlama");
  EXPECT_EQ(f.get_u64("llama.block_count"), 1u);
  EXPECT_EQ(f.get_u64("llama.attention.head_count_kv"), 2u);
  EXPECT_EQ(f.get_u64("llama.rope.dimension_count"), 8u);
  EXPECT_EQ(f.get_u64("general.file_type"), 0u);  // ALL_F32
  EXPECT_EQ(f.get_string("tokenizer.ggml.model"), "gpt2");
  EXPECT_EQ(f.get_string("tokenizer.ggml.pre"), "gpt-2");
  const auto tokens = f.get_string_array("tokenizer.ggml.tokens");
  ASSERT_EQ(tokens.size(), 258u);
  EXPECT_EQ(tokens[257], "<|endoftext|>");
  const auto types = f.get_i64_array("tokenizer.ggml.token_type");
  EXPECT_EQ(types[0], 1);    // normal
  EXPECT_EQ(types[257], 3);  // control: a special added token
  EXPECT_EQ(f.get_string_array("tokenizer.ggml.merges"), std::vector<std::string>{"\xC4\xA0 t"});
  EXPECT_EQ(f.get_u64("tokenizer.ggml.bos_token_id"), 257u);
  EXPECT_EQ(f.get_u64("tokenizer.ggml.eos_token_id"), 257u);
  // The ByteLevel post-processor adds nothing, and gguf-py lets it win over tokenizer_config's add_bos_token.
  EXPECT_FALSE(f.get("tokenizer.ggml.add_bos_token").as_bool("add_bos"));
}

TEST_F(HfGguf, Bf16MatricesStayBf16AndNormsBecomeExactF32) {
  const auto m = test::write_tiny_llama_checkpoint(folder_, "BF16", 5);
  const model::GgufFile f = hf_as_gguf(folder_);
  EXPECT_EQ(f.tensor("blk.0.ffn_gate.weight").type, GgmlType::BF16);
  EXPECT_EQ(f.tensor("blk.0.attn_norm.weight").type, GgmlType::F32);
  EXPECT_EQ(f.read_f32(f.tensor("blk.0.attn_norm.weight")),
            m.tensors.at("model.layers.0.input_layernorm.weight").second);
  EXPECT_EQ(f.read_f32(f.tensor("blk.0.ffn_gate.weight")), m.tensors.at("model.layers.0.mlp.gate_proj.weight").second);
  EXPECT_EQ(f.get_u64("general.file_type"), 32u);  // MOSTLY_BF16
}

TEST_F(HfGguf, ConvertWritesTheRequestedTypeAndNeverOverwritesWithoutForce) {
  const auto m = test::write_tiny_llama_checkpoint(folder_, "F32", 9);
  const std::string out = dir_.file("out.gguf");
  write_hf_as_gguf(folder_, out, HfTensorType::automatic, false);  // auto from F32: F16
  {
    const auto f = model::GgufFile::open(out);
    EXPECT_EQ(f.get_u64("general.file_type"), 1u);
    EXPECT_EQ(f.tensor("blk.0.ffn_down.weight").type, GgmlType::F16);
    EXPECT_EQ(f.tensor("output_norm.weight").type, GgmlType::F32);
    const auto got = f.read_f32(f.tensor("blk.0.ffn_down.weight"));
    const auto& want = m.tensors.at("model.layers.0.mlp.down_proj.weight").second;
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], round_to_half(want[i])) << i;
  }
  EXPECT_THROW(write_hf_as_gguf(folder_, out, HfTensorType::bf16, false), Error);
  EXPECT_EQ(model::GgufFile::open(out).get_u64("general.file_type"), 1u);  // untouched
  EXPECT_FALSE(std::filesystem::exists(out + ".partial"));
  write_hf_as_gguf(folder_, out, HfTensorType::bf16, true);
  const auto f = model::GgufFile::open(out);
  EXPECT_EQ(f.tensor("blk.0.ffn_down.weight").type, GgmlType::BF16);
  EXPECT_EQ(f.get_u64("general.file_type"), 32u);
  EXPECT_EQ(parse_hf_tensor_type("bf16"), HfTensorType::bf16);
  EXPECT_THROW(parse_hf_tensor_type("Q4_0"), Error);
}

TEST(HfArchitectureNames, EveryTensorOfTheFamiliesMapsOrIsNamedInTheError) {
  const auto& gemma = hf_architecture(nlohmann::json{{"architectures", {"Gemma3ForCausalLM"}}}, "config.json");
  const auto& qwen = hf_architecture(nlohmann::json{{"architectures", {"Qwen2ForCausalLM"}}}, "config.json");
  EXPECT_EQ(*hf_to_gguf_tensor_name(gemma, "model.layers.7.post_attention_layernorm.weight"),
            "blk.7.post_attention_norm.weight");
  EXPECT_EQ(*hf_to_gguf_tensor_name(gemma, "model.layers.7.pre_feedforward_layernorm.weight"), "blk.7.ffn_norm.weight");
  EXPECT_EQ(*hf_to_gguf_tensor_name(qwen, "model.layers.2.post_attention_layernorm.weight"), "blk.2.ffn_norm.weight");
  EXPECT_EQ(*hf_to_gguf_tensor_name(qwen, "model.layers.2.self_attn.k_proj.bias"), "blk.2.attn_k.bias");
  EXPECT_FALSE(hf_to_gguf_tensor_name(qwen, "model.layers.2.self_attn.rotary_emb.inv_freq").has_value());
  try {
    hf_to_gguf_tensor_name(qwen, "model.layers.2.mlp.experts.0.up_proj.weight");
    FAIL() << "an unknown tensor was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("model.layers.2.mlp.experts.0.up_proj.weight"), std::string::npos);
  }
  try {
    hf_architecture(nlohmann::json{{"architectures", {"MixtralForCausalLM"}}}, "cfg/config.json");
    FAIL() << "an unsupported architecture was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cfg/config.json: architecture MixtralForCausalLM is not supported"),
              std::string::npos);
    EXPECT_NE(std::string(e.what()).find("Gemma3ForCausalLM"), std::string::npos);
  }
}

TEST(HfArchitectureRope, Llama3FactorsMatchTheFormulaInDoublePrecision) {
  const nlohmann::json config = {{"hidden_size", 2048}, {"num_attention_heads", 32}, {"rope_theta", 500000.0},
                                 {"rope_scaling",
                                  {{"rope_type", "llama3"}, {"factor", 32.0}, {"low_freq_factor", 1.0},
                                   {"high_freq_factor", 4.0}, {"original_max_position_embeddings", 8192}}}};
  const auto f = hf_llama3_rope_factors(config);
  ASSERT_EQ(f.size(), 32u);
  int smooth = 0;
  for (size_t i = 0; i < f.size(); ++i) {
    const double freq = 1.0 / std::pow(500000.0, double(2 * i) / 64.0);
    const double wavelen = 2 * M_PI / freq;
    double want = wavelen < 8192.0 / 4 ? 1.0 : wavelen > 8192.0 ? 32.0 : 0;
    if (want == 0) {
      const double s = (8192.0 / wavelen - 1.0) / 3.0;
      want = 1.0 / ((1 - s) / 32.0 + s);
      ++smooth;
    }
    EXPECT_NEAR(f[i], want, 1e-5 * want) << i;
  }
  EXPECT_GT(smooth, 0);  // the interpolated band is exercised
  EXPECT_TRUE(hf_llama3_rope_factors(nlohmann::json{{"hidden_size", 64}, {"num_attention_heads", 4}}).empty());
}

}  // namespace
}  // namespace vkq::io
