// The per-tensor output plan: llama-quantize's rules on the real stories260K model and on
// synthetic tensor lists (tied embeddings, overrides, float targets, shapes that do not fit,
// requantizing, 3-D tensors), type-name parsing and llama's file-type numbers.
#include <gtest/gtest.h>

#include <algorithm>

#include "io/output_plan.hpp"
#include "model/gguf.hpp"
#include "support/test_seed.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::io {
namespace {

using model::GgmlType;

template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

const TensorPlan& get(const OutputPlan& plan, const std::string& name) {
  const TensorPlan* t = plan.find(name);
  if (!t) throw Error("test: no plan entry " + name);
  return *t;
}

// A llama-style model with 2 blocks, dim 64, ffn 172 (like stories260K), optional output head.
std::vector<PlanInput> llama_like(GgmlType type, bool with_output) {
  std::vector<PlanInput> v = {{"token_embd.weight", {64, 512}, type}};
  for (int b = 0; b < 2; ++b) {
    const std::string p = "blk." + std::to_string(b) + ".";
    v.push_back({p + "attn_norm.weight", {64}, GgmlType::F32});
    v.push_back({p + "attn_q.weight", {64, 64}, type});
    v.push_back({p + "attn_k.weight", {64, 32}, type});
    v.push_back({p + "attn_v.weight", {64, 32}, type});
    v.push_back({p + "attn_output.weight", {64, 64}, type});
    v.push_back({p + "ffn_norm.weight", {64}, GgmlType::F32});
    v.push_back({p + "ffn_gate.weight", {64, 172}, type});
    v.push_back({p + "ffn_down.weight", {172, 64}, type});
    v.push_back({p + "ffn_up.weight", {64, 172}, type});
  }
  v.push_back({"output_norm.weight", {64}, GgmlType::F32});
  if (with_output) v.push_back({"output.weight", {64, 512}, type});
  return v;
}

TEST(OutputPlan, Stories260KQ4_0) {
  const auto file = model::GgufFile::open(test::data_path("tinystories-260k/stories260K.gguf"));
  const OutputPlan plan = plan_output(file, PlanOptions{GgmlType::Q4_0, {}, {}});
  SCOPED_TRACE(format_plan(plan));
  EXPECT_EQ(plan.file_type, 2u);
  ASSERT_EQ(plan.tensors.size(), file.tensors().size());
  for (size_t i = 0; i < plan.tensors.size(); ++i) EXPECT_EQ(plan.tensors[i].name, file.tensors()[i].name);  // input order

  // 11 norms kept, 5 ffn_down to F16, 30 calibrated linears + embedding + head quantized.
  EXPECT_EQ(plan.count(TensorAction::copy), 11u);
  EXPECT_EQ(plan.count(TensorAction::convert), 5u);
  EXPECT_EQ(plan.count(TensorAction::quantize), 32u);
  EXPECT_EQ(plan.count_calibrated(), 30u);

  const TensorPlan& norm = get(plan, "blk.0.attn_norm.weight");
  EXPECT_EQ(norm.action, TensorAction::copy);
  EXPECT_EQ(norm.output_type, GgmlType::F32);

  const TensorPlan& q = get(plan, "blk.3.attn_q.weight");
  EXPECT_EQ(q.action, TensorAction::quantize);
  EXPECT_EQ(q.output_type, GgmlType::Q4_0);
  EXPECT_TRUE(q.calibrated);
  EXPECT_EQ(q.rows(), 64u);
  EXPECT_EQ(q.cols(), 64u);

  const TensorPlan& down = get(plan, "blk.0.ffn_down.weight");
  EXPECT_EQ(down.action, TensorAction::convert);
  EXPECT_EQ(down.output_type, GgmlType::F16);
  EXPECT_TRUE(down.fallback);
  EXPECT_FALSE(down.calibrated);
  EXPECT_EQ(down.reason, "blk.0.ffn_down.weight: 172 columns is not a multiple of 32, using F16 instead of Q4_0");

  const TensorPlan& emb = get(plan, "token_embd.weight");
  EXPECT_EQ(emb.action, TensorAction::quantize);
  EXPECT_EQ(emb.output_type, GgmlType::Q4_0);
  EXPECT_FALSE(emb.calibrated);
  EXPECT_NE(emb.reason.find("RTN"), std::string::npos) << emb.reason;

  const TensorPlan& head = get(plan, "output.weight");
  EXPECT_EQ(head.action, TensorAction::quantize);
  EXPECT_EQ(head.output_type, GgmlType::Q8_0);  // llama-quantize's Q6_K, which we cannot write yet
  EXPECT_FALSE(head.calibrated);
  EXPECT_NE(head.reason.find("Q6_K"), std::string::npos) << head.reason;

  ASSERT_FALSE(plan.notes.empty());
  EXPECT_NE(plan.notes[0].find("token_embd.weight, output.weight: rounded to nearest (RTN)"), std::string::npos) << plan.notes[0];
}

TEST(OutputPlan, TiedEmbeddingIsTheOutputHead) {
  const OutputPlan plan = plan_output(llama_like(GgmlType::F32, false), PlanOptions{GgmlType::Q4_1, {}, {}});
  const TensorPlan& emb = get(plan, "token_embd.weight");
  EXPECT_EQ(emb.output_type, GgmlType::Q8_0);
  EXPECT_NE(emb.reason.find("no output.weight"), std::string::npos) << emb.reason;
  EXPECT_EQ(plan.file_type, 3u);
}

TEST(OutputPlan, OverridesWinAndStillFallBackWhenRowsDoNotFit) {
  auto inputs = llama_like(GgmlType::F32, true);
  inputs.push_back({"blk.9.attn_q.weight", {48, 8}, GgmlType::F32});
  PlanOptions o{GgmlType::Q5_0, GgmlType::Q8_0, GgmlType::F16};
  OutputPlan plan = plan_output(inputs, o);
  EXPECT_EQ(get(plan, "token_embd.weight").output_type, GgmlType::Q8_0);
  EXPECT_NE(get(plan, "token_embd.weight").reason.find("--token-embedding-type"), std::string::npos);
  EXPECT_EQ(get(plan, "output.weight").output_type, GgmlType::F16);
  EXPECT_EQ(get(plan, "output.weight").action, TensorAction::convert);
  EXPECT_EQ(get(plan, "blk.1.attn_v.weight").output_type, GgmlType::Q5_0);
  EXPECT_EQ(get(plan, "blk.9.attn_q.weight").output_type, GgmlType::F16);
  EXPECT_EQ(get(plan, "blk.9.attn_q.weight").reason,
            "blk.9.attn_q.weight: 48 columns is not a multiple of 32, using F16 instead of Q5_0");
  EXPECT_EQ(plan.file_type, 8u);

  // Tied embedding with --output-tensor-type: the head override applies to it (llama.cpp).
  plan = plan_output(llama_like(GgmlType::F32, false), PlanOptions{GgmlType::Q4_0, {}, GgmlType::Q5_1});
  EXPECT_EQ(get(plan, "token_embd.weight").output_type, GgmlType::Q5_1);
}

// llama-quantize with --imatrix: the first n_layer/8 ffn_down (by position) of Q4_0/Q5_0 become Q4_1/Q5_1.
TEST(OutputPlan, ImatrixPlanRaisesTheFirstEighthOfFfnDown) {
  std::vector<PlanInput> inputs = {{"token_embd.weight", {256, 1000}, GgmlType::F32}};
  // In the order GGUF files store them (blk.0, blk.1, blk.10, …, blk.2): llama-quantize counts by layer.
  std::vector<int> order(30);
  for (int b = 0; b < 30; ++b) order[size_t(b)] = b;
  std::sort(order.begin(), order.end(), [](int a, int b) { return std::to_string(a) < std::to_string(b); });
  for (int b : order) {
    const std::string p = "blk." + std::to_string(b) + ".";
    inputs.push_back({p + "ffn_up.weight", {256, 512}, GgmlType::F32});
    inputs.push_back({p + "ffn_down.weight", {512, 256}, GgmlType::F32});
  }
  for (GgmlType t : {GgmlType::Q4_0, GgmlType::Q5_0, GgmlType::Q4_1, GgmlType::Q8_0}) {
    SCOPED_TRACE(model::ggml_type_name(t));
    PlanOptions o{t, {}, {}};
    o.imatrix = true;
    const OutputPlan with = plan_output(inputs, o);
    const OutputPlan without = plan_output(inputs, PlanOptions{t, {}, {}});
    const GgmlType raised = t == GgmlType::Q4_0 ? GgmlType::Q4_1 : t == GgmlType::Q5_0 ? GgmlType::Q5_1 : t;
    for (int b = 0; b < 30; ++b) {
      const std::string down = "blk." + std::to_string(b) + ".ffn_down.weight";
      EXPECT_EQ(get(with, down).output_type, b < 30 / 8 ? raised : t) << down;  // 30/8 = 3 blocks
      EXPECT_EQ(get(without, down).output_type, t) << down;
      EXPECT_EQ(get(with, "blk." + std::to_string(b) + ".ffn_up.weight").output_type, t);
    }
    EXPECT_EQ(with.file_type, llama_file_type(t));  // the file type stays the requested one
  }
}

// A calibrated run (imatrix) calibrates the head too — the tied embedding when it serves as the head —
// while an untied embedding, a lookup table, is rounded to nearest.
TEST(OutputPlan, CalibratedRunsCalibrateTheHead) {
  for (bool tied : {false, true}) {
    SCOPED_TRACE(tied ? "tied" : "untied");
    PlanOptions o{GgmlType::Q4_0, {}, {}};
    o.imatrix = true;
    const OutputPlan plan = plan_output(llama_like(GgmlType::F32, !tied), o);
    const TensorPlan& emb = get(plan, "token_embd.weight");
    EXPECT_EQ(emb.action, TensorAction::quantize);
    EXPECT_EQ(emb.calibrated, tied);
    if (!tied) {
      const TensorPlan& head = get(plan, "output.weight");
      EXPECT_TRUE(head.calibrated);
      EXPECT_NE(head.reason.find("final-norm outputs"), std::string::npos) << head.reason;
      EXPECT_NE(emb.reason.find("RTN"), std::string::npos) << emb.reason;
    }
    EXPECT_EQ(plan.count_calibrated(), 2u * 7u - 2u /* ffn_down F16 */ + 1u);
  }
}

TEST(OutputPlan, FloatTargetsHaveNoHeadBumpAndNoFallback) {
  OutputPlan plan = plan_output(llama_like(GgmlType::F32, true), PlanOptions{GgmlType::F16, {}, {}});
  EXPECT_EQ(plan.file_type, 1u);
  EXPECT_EQ(plan.count(TensorAction::quantize), 0u);
  EXPECT_EQ(get(plan, "output.weight").output_type, GgmlType::F16);
  EXPECT_EQ(get(plan, "blk.0.ffn_down.weight").output_type, GgmlType::F16);
  EXPECT_FALSE(get(plan, "blk.0.ffn_down.weight").fallback);
  EXPECT_EQ(get(plan, "blk.0.ffn_norm.weight").output_type, GgmlType::F32);  // 1-D stays as it is

  plan = plan_output(llama_like(GgmlType::F32, true), PlanOptions{GgmlType::F32, {}, {}});
  EXPECT_EQ(plan.file_type, 0u);
  EXPECT_EQ(plan.count(TensorAction::copy), plan.tensors.size());

  plan = plan_output(llama_like(GgmlType::F16, true), PlanOptions{GgmlType::BF16, {}, {}});
  EXPECT_EQ(plan.file_type, 32u);
  EXPECT_EQ(get(plan, "blk.1.ffn_up.weight").action, TensorAction::convert);
  EXPECT_EQ(get(plan, "blk.1.ffn_up.weight").output_type, GgmlType::BF16);
}

TEST(OutputPlan, F16InputFallingBackToF16IsCopied) {
  const OutputPlan plan = plan_output(llama_like(GgmlType::F16, true), PlanOptions{GgmlType::Q8_0, {}, {}});
  const TensorPlan& down = get(plan, "blk.1.ffn_down.weight");
  EXPECT_EQ(down.action, TensorAction::copy);
  EXPECT_TRUE(down.fallback);
  EXPECT_NE(down.reason.find("already F16"), std::string::npos) << down.reason;
  EXPECT_EQ(get(plan, "output.weight").output_type, GgmlType::Q8_0);
  EXPECT_NE(get(plan, "output.weight").reason.find("-t Q8_0"), std::string::npos);
}

TEST(OutputPlan, KeepsWhatLlamaQuantizeKeeps) {
  const std::vector<PlanInput> in = {
      {"blk.0.ffn_gate_inp.weight", {64, 8}, GgmlType::F32},
      {"blk.0.attn_q.bias", {64, 64}, GgmlType::F32},
      {"blk.0.conv_3d.weight", {64, 128, 8}, GgmlType::F32},
      {"blk.0.attn_q.weight", {64, 1}, GgmlType::F32},  // one row: ggml counts it 1-D
      {"blk.0.attn_k.weight", {64, 64}, GgmlType::Q4_0},  // already the target type
  };
  const OutputPlan plan = plan_output(in, PlanOptions{GgmlType::Q4_0, {}, {}});
  for (const auto& t : plan.tensors) {
    EXPECT_EQ(t.action, TensorAction::copy) << t.name;
    EXPECT_EQ(t.output_type, t.input_type) << t.name;
    EXPECT_FALSE(t.reason.empty()) << t.name;
  }
  EXPECT_NE(plan.tensors[2].reason.find("3-D"), std::string::npos) << plan.tensors[2].reason;
}

TEST(OutputPlan, RefusesRequantizingAndUnreadableInputs) {
  std::string msg = error_of([] {
    plan_output({{"blk.0.attn_q.weight", {64, 64}, GgmlType::Q4_0}}, PlanOptions{GgmlType::Q8_0, {}, {}});
  });
  EXPECT_NE(msg.find("'blk.0.attn_q.weight' is already Q4_0"), std::string::npos) << msg;
  msg = error_of([] { plan_output({{"blk.0.attn_q.weight", {64, 64}, GgmlType::I32}}, PlanOptions{GgmlType::F16, {}, {}}); });
  EXPECT_NE(msg.find("I32"), std::string::npos) << msg;
}

TEST(OutputPlan, AllowRequantizeTakesTheDequantizedWeights) {
  PlanOptions o{GgmlType::Q8_0, {}, {}};
  o.allow_requantize = true;
  const auto plan = plan_output({{"blk.0.attn_q.weight", {64, 64}, GgmlType::Q4_1}}, o);
  ASSERT_EQ(plan.tensors.size(), 1u);
  EXPECT_EQ(plan.tensors[0].action, TensorAction::quantize);
  EXPECT_TRUE(plan.tensors[0].calibrated);
  EXPECT_EQ(plan.tensors[0].output_type, GgmlType::Q8_0);
}

// A mixture-of-experts block: the 3-D expert stacks are calibrated block linears, the router is kept, and with
// llama-quantize's 8-expert rules attn_v and attn_k go to Q8_0 (any type) and attn_output to Q5_K (Q4_K_M).
TEST(OutputPlan, ExpertStacksAndTheEightExpertRules) {
  std::vector<PlanInput> in;
  for (int b = 0; b < 2; ++b) {
    const std::string p = "blk." + std::to_string(b) + ".";
    for (const char* n : {"attn_q", "attn_k", "attn_v", "attn_output"}) in.push_back({p + n + ".weight", {256, 256}, GgmlType::F32});
    in.push_back({p + "ffn_gate_inp.weight", {256, 8}, GgmlType::F32});
    in.push_back({p + "ffn_gate_exps.weight", {256, 512, 8}, GgmlType::F32});
    in.push_back({p + "ffn_up_exps.weight", {256, 512, 8}, GgmlType::F32});
    in.push_back({p + "ffn_down_exps.weight", {512, 256, 8}, GgmlType::F32});
  }
  for (uint32_t experts : {8u, 4u}) {
    PlanOptions o{GgmlType::Q4_0, {}, {}};
    o.n_expert = experts;
    const OutputPlan plan = plan_output(in, o);
    SCOPED_TRACE(experts);
    for (const char* n : {"blk.1.ffn_gate_exps.weight", "blk.1.ffn_up_exps.weight", "blk.1.ffn_down_exps.weight"}) {
      EXPECT_EQ(get(plan, n).action, TensorAction::quantize) << n;
      EXPECT_TRUE(get(plan, n).calibrated) << n;
      EXPECT_EQ(get(plan, n).output_type, GgmlType::Q4_0) << n;
    }
    EXPECT_EQ(get(plan, "blk.0.ffn_gate_inp.weight").action, TensorAction::copy);
    const GgmlType kv = experts == 8 ? GgmlType::Q8_0 : GgmlType::Q4_0;
    EXPECT_EQ(get(plan, "blk.0.attn_v.weight").output_type, kv);
    EXPECT_EQ(get(plan, "blk.1.attn_k.weight").output_type, kv);
    EXPECT_EQ(get(plan, "blk.1.attn_q.weight").output_type, GgmlType::Q4_0);
    o.type = GgmlType::Q4_K;
    o.mixture = find_mixture("Q4_K_M");
    const OutputPlan km = plan_output(in, o);
    EXPECT_EQ(get(km, "blk.0.attn_output.weight").output_type, experts == 8 ? GgmlType::Q5_K : GgmlType::Q4_K);
    // use_more_bits(1, 2) holds (the last eighth), use_more_bits(0, 2) does not.
    EXPECT_EQ(get(km, "blk.1.attn_v.weight").output_type, experts == 8 ? GgmlType::Q8_0 : GgmlType::Q6_K);
    EXPECT_EQ(get(km, "blk.1.ffn_down_exps.weight").output_type, GgmlType::Q6_K);
    EXPECT_EQ(get(km, "blk.0.ffn_down_exps.weight").output_type, GgmlType::Q4_K);
  }
}

TEST(OutputPlan, BlockLinears) {
  for (const char* n : {"blk.0.attn_q.weight", "blk.12.attn_k.weight", "blk.1.attn_v.weight", "blk.1.attn_output.weight",
                        "blk.2.ffn_gate.weight", "blk.2.ffn_up.weight", "blk.2.ffn_down.weight", "blk.0.attn_qkv.weight",
                        "blk.3.ffn_gate_exps.weight", "blk.3.ffn_up_exps.weight", "blk.3.ffn_down_exps.weight"})
    EXPECT_TRUE(is_block_linear(n)) << n;
  for (const char* n : {"token_embd.weight", "output.weight", "blk.0.ffn_gate_inp.weight", "blk.0.attn_norm.weight",
                        "blk.0.attn_q.bias"})
    EXPECT_FALSE(is_block_linear(n)) << n;
}

TEST(OutputTypeNames, ParsesLlamaQuantizeNames) {
  EXPECT_EQ(parse_output_type("q4_0"), GgmlType::Q4_0);
  EXPECT_EQ(parse_output_type("Q8_0"), GgmlType::Q8_0);
  EXPECT_EQ(parse_output_type("Q5_1"), GgmlType::Q5_1);
  EXPECT_EQ(parse_output_type("bf16"), GgmlType::BF16);
  EXPECT_EQ(parse_output_type("F32"), GgmlType::F32);
  EXPECT_EQ(parse_output_type("2"), GgmlType::Q4_0);    // LLAMA_FTYPE_MOSTLY_Q4_0
  EXPECT_EQ(parse_output_type("32"), GgmlType::BF16);   // LLAMA_FTYPE_MOSTLY_BF16
  EXPECT_EQ(parse_tensor_type("q8_0", "--output-tensor-type"), GgmlType::Q8_0);

  EXPECT_EQ(parse_output_type("Q4_K_M"), GgmlType::Q4_K);  // a mixture's base type
  EXPECT_EQ(parse_output_type("q3_k_s"), GgmlType::Q3_K);
  EXPECT_EQ(parse_output_type("15"), GgmlType::Q4_K);       // LLAMA_FTYPE_MOSTLY_Q4_K_M
  EXPECT_EQ(parse_tensor_type("q6_k", "--output-tensor-type"), GgmlType::Q6_K);
  EXPECT_EQ(find_mixture("Q4_K")->name, "Q4_K_M");           // llama-quantize's alias
  EXPECT_EQ(find_mixture("q5_k_s")->ftype, 16u);
  EXPECT_EQ(find_mixture("21")->name, "Q2_K_S");
  EXPECT_FALSE(find_mixture("Q4_0").has_value());
  EXPECT_EQ(supported_mixtures(),
            "Q2_K, Q2_K_S, Q3_K_S, Q3_K_M, Q3_K_L, Q4_K_S, Q4_K_M, Q5_K_S, Q5_K_M, Q6_K, IQ4_NL, IQ4_XS");

  const std::string supported =
      "supported: Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS, F16, BF16, F32";
  for (const char* k : {"IQ3_S", "IQ2_XXS", "IQ1_M", "TQ1_0", "MXFP4_MOE", "26"}) {
    const std::string msg = error_of([k] { parse_output_type(k); });
    EXPECT_NE(msg.find("not supported yet, " + supported), std::string::npos) << k << ": " << msg;
  }
  std::string msg = error_of([] { parse_output_type("Q4_9"); });
  EXPECT_NE(msg.find("'Q4_9' is unknown, " + supported), std::string::npos) << msg;
  msg = error_of([] { parse_tensor_type("IQ3_S", "--output-tensor-type"); });
  EXPECT_NE(msg.find("--output-tensor-type type IQ3_S is not supported yet"), std::string::npos) << msg;
  msg = error_of([] { parse_tensor_type("Q4_K_M", "--output-tensor-type"); });  // a mixture is no tensor type
  EXPECT_NE(msg.find("'Q4_K_M' is unknown"), std::string::npos) << msg;
  msg = error_of([] { parse_output_type("99999999999"); });
  EXPECT_NE(msg.find("not supported yet"), std::string::npos) << msg;
}

TEST(OutputTypeNames, LlamaFileTypes) {
  EXPECT_EQ(llama_file_type(GgmlType::F32), 0u);
  EXPECT_EQ(llama_file_type(GgmlType::F16), 1u);
  EXPECT_EQ(llama_file_type(GgmlType::Q4_0), 2u);
  EXPECT_EQ(llama_file_type(GgmlType::Q4_1), 3u);
  EXPECT_EQ(llama_file_type(GgmlType::Q8_0), 7u);
  EXPECT_EQ(llama_file_type(GgmlType::Q5_0), 8u);
  EXPECT_EQ(llama_file_type(GgmlType::Q5_1), 9u);
  EXPECT_EQ(llama_file_type(GgmlType::BF16), 32u);
  EXPECT_EQ(llama_file_type(GgmlType::Q6_K), 18u);
  EXPECT_EQ(llama_file_type(GgmlType::Q4_K), 15u);  // llama-quantize's Q4_K is Q4_K_M
  EXPECT_EQ(llama_file_type(GgmlType::IQ4_XS), 30u);
  EXPECT_NE(error_of([] { llama_file_type(GgmlType::IQ3_S); }).find("no llama file type for IQ3_S"), std::string::npos);
  EXPECT_NE(error_of([] { plan_output({}, PlanOptions{GgmlType::IQ3_S, {}, {}}); }).find("not supported yet"),
            std::string::npos);
}

// A llama-style model of 8 blocks whose rows fit 256-column super-blocks (dim `dim`, 4 query and `kv` key/value heads).
std::vector<PlanInput> k_model(uint64_t dim, uint64_t kv_rows, bool with_output) {
  std::vector<PlanInput> v = {{"token_embd.weight", {dim, 1000}, GgmlType::F32}};
  for (int b = 0; b < 8; ++b) {
    const std::string p = "blk." + std::to_string(b) + ".";
    v.push_back({p + "attn_norm.weight", {dim}, GgmlType::F32});
    v.push_back({p + "attn_q.weight", {dim, dim}, GgmlType::F32});
    v.push_back({p + "attn_k.weight", {dim, kv_rows}, GgmlType::F32});
    v.push_back({p + "attn_v.weight", {dim, kv_rows}, GgmlType::F32});
    v.push_back({p + "attn_output.weight", {dim, dim}, GgmlType::F32});
    v.push_back({p + "ffn_gate.weight", {dim, 2 * dim}, GgmlType::F32});
    v.push_back({p + "ffn_down.weight", {2 * dim, dim}, GgmlType::F32});
    v.push_back({p + "ffn_up.weight", {dim, 2 * dim}, GgmlType::F32});
  }
  if (with_output) v.push_back({"output.weight", {dim, 1000}, GgmlType::F32});
  return v;
}

PlanOptions mixture_options(const char* name) {
  PlanOptions o;
  o.mixture = find_mixture(name);
  o.type = o.mixture->base;
  o.imatrix = true;
  return o;
}

TEST(OutputPlanMixtures, Q4_K_MRaisesAttnVAndFfnDownByLayer) {
  const OutputPlan plan = plan_output(k_model(256, 256, true), mixture_options("Q4_K_M"));
  EXPECT_EQ(plan.file_type, 15u);
  // use_more_bits for 8 layers: the first and last eighth (0, 7) and every third between (3, 6).
  for (int b = 0; b < 8; ++b) {
    const bool more = b == 0 || b == 3 || b == 6 || b == 7;
    const std::string p = "blk." + std::to_string(b) + ".";
    EXPECT_EQ(get(plan, p + "attn_v.weight").output_type, more ? GgmlType::Q6_K : GgmlType::Q4_K) << b;
    EXPECT_EQ(get(plan, p + "ffn_down.weight").output_type, more ? GgmlType::Q6_K : GgmlType::Q4_K) << b;
    EXPECT_EQ(get(plan, p + "attn_q.weight").output_type, GgmlType::Q4_K) << b;
    EXPECT_EQ(get(plan, p + "ffn_up.weight").output_type, GgmlType::Q4_K) << b;
    EXPECT_TRUE(get(plan, p + "attn_q.weight").calibrated);
  }
  EXPECT_EQ(get(plan, "output.weight").output_type, GgmlType::Q6_K);
  EXPECT_TRUE(get(plan, "output.weight").calibrated);
  EXPECT_EQ(get(plan, "token_embd.weight").output_type, GgmlType::Q4_K);
  EXPECT_EQ(plan.count_fallbacks(), 0u);
}

TEST(OutputPlanMixtures, RowsThatDoNotFitSuperBlocksFallBackAsLlamaQuantize) {
  // dim 576 (SmolLM2-135M): neither 576 nor the 1152-wide ffn_down is a multiple of 256.
  const OutputPlan plan = plan_output(k_model(576, 192, false), mixture_options("Q4_K_M"));
  EXPECT_EQ(get(plan, "blk.1.attn_q.weight").output_type, GgmlType::Q5_0);  // Q4_K -> Q5_0
  EXPECT_TRUE(get(plan, "blk.1.attn_q.weight").fallback);
  EXPECT_EQ(get(plan, "blk.0.attn_v.weight").output_type, GgmlType::Q8_0);  // Q6_K -> Q8_0
  EXPECT_EQ(get(plan, "token_embd.weight").output_type, GgmlType::Q8_0);    // tied head: Q6_K -> Q8_0
  EXPECT_NE(plan.notes.back().find("x Q4_K -> Q5_0"), std::string::npos) << plan.notes.back();
  const OutputPlan q2 = plan_output(k_model(576, 192, false), mixture_options("Q2_K"));
  EXPECT_EQ(get(q2, "blk.1.attn_q.weight").output_type, GgmlType::Q4_0);  // Q2_K -> Q4_0
  const OutputPlan q5 = plan_output(k_model(576, 192, false), mixture_options("Q5_K_S"));
  EXPECT_EQ(get(q5, "blk.1.attn_q.weight").output_type, GgmlType::Q5_1);  // Q5_K -> Q5_1
}

TEST(OutputPlanMixtures, OtherMixturesFollowTheirRules) {
  auto types = [](const char* mix, uint32_t gqa) {
    PlanOptions o = mixture_options(mix);
    o.n_gqa = gqa;
    return plan_output(k_model(256, 256, true), o);
  };
  OutputPlan p = types("Q3_K_M", 1);
  EXPECT_EQ(get(p, "blk.1.attn_v.weight").output_type, GgmlType::Q5_K);  // first 2 layers
  EXPECT_EQ(get(p, "blk.2.attn_v.weight").output_type, GgmlType::Q4_K);
  EXPECT_EQ(get(p, "blk.0.ffn_down.weight").output_type, GgmlType::Q4_K);  // n/16 = 0 for 8 layers
  EXPECT_EQ(get(p, "blk.5.attn_output.weight").output_type, GgmlType::Q4_K);
  EXPECT_EQ(get(p, "blk.5.attn_q.weight").output_type, GgmlType::Q3_K);
  p = types("Q2_K", 1);
  EXPECT_EQ(get(p, "blk.4.attn_v.weight").output_type, GgmlType::Q3_K);
  EXPECT_EQ(get(p, "blk.4.ffn_down.weight").output_type, GgmlType::Q3_K);
  EXPECT_EQ(get(p, "blk.4.attn_output.weight").output_type, GgmlType::Q3_K);
  EXPECT_EQ(get(p, "blk.4.ffn_gate.weight").output_type, GgmlType::Q2_K);
  EXPECT_EQ(get(types("Q2_K", 4), "blk.4.attn_v.weight").output_type, GgmlType::Q4_K);  // GQA ≥ 4
  p = types("Q4_K_S", 1);
  EXPECT_EQ(get(p, "blk.3.attn_v.weight").output_type, GgmlType::Q5_K);
  EXPECT_EQ(get(p, "blk.4.attn_v.weight").output_type, GgmlType::Q4_K);
  EXPECT_EQ(get(p, "blk.0.ffn_down.weight").output_type, GgmlType::Q5_K);
  EXPECT_EQ(get(p, "blk.1.ffn_down.weight").output_type, GgmlType::Q4_K);
  p = types("IQ4_XS", 4);
  EXPECT_EQ(get(p, "blk.4.attn_v.weight").output_type, GgmlType::Q5_K);  // GQA ≥ 4
  EXPECT_EQ(get(p, "blk.0.ffn_down.weight").output_type, GgmlType::IQ4_XS);  // calibrated: no early-layer bump
  EXPECT_EQ(p.file_type, 30u);
  EXPECT_EQ(get(plan_output(k_model(576, 192, false), mixture_options("IQ4_XS")), "blk.1.attn_q.weight").output_type,
            GgmlType::IQ4_NL);  // IQ4_XS -> IQ4_NL
  p = types("Q6_K", 1);
  EXPECT_EQ(get(p, "blk.0.attn_v.weight").output_type, GgmlType::Q6_K);
  EXPECT_EQ(p.file_type, 18u);
  PlanOptions big = mixture_options("Q4_K_S");
  big.is_70b = true;
  EXPECT_EQ(get(plan_output(k_model(256, 256, true), big), "blk.5.attn_v.weight").output_type, GgmlType::Q5_K);
}

TEST(OutputPlanMixtures, TensorTypeOverridesWinOverTheMixture) {
  PlanOptions o = mixture_options("Q4_K_M");
  o.tensor_types = {parse_tensor_type_override("attn_(q|k)=q8_0"), parse_tensor_type_override("blk\\.0\\..*=Q5_K")};
  const OutputPlan plan = plan_output(k_model(256, 256, true), o);
  EXPECT_EQ(get(plan, "blk.3.attn_q.weight").output_type, GgmlType::Q8_0);
  EXPECT_EQ(get(plan, "blk.0.attn_k.weight").output_type, GgmlType::Q8_0);  // the first match wins
  EXPECT_EQ(get(plan, "blk.0.attn_v.weight").output_type, GgmlType::Q5_K);  // over the mixture's Q6_K
  EXPECT_EQ(get(plan, "blk.3.attn_v.weight").output_type, GgmlType::Q6_K);
  EXPECT_NE(get(plan, "blk.3.attn_q.weight").reason.find("--tensor-type attn_(q|k)=Q8_0"), std::string::npos);
  EXPECT_NE(error_of([] { parse_tensor_type_override("attn_v"); }).find("expected PATTERN=TYPE"), std::string::npos);
  EXPECT_NE(error_of([] { parse_tensor_type_override("attn_(v=Q8_0"); }).find("not a regular expression"), std::string::npos);
  EXPECT_NE(error_of([] { parse_tensor_type_override("attn_v=Q9_9"); }).find("--tensor-type"), std::string::npos);
}

}  // namespace
}  // namespace vkq::io
