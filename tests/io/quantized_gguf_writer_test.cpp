// QuantizedGgufWriter: a Q4_0 copy of stories260K with RTN codes from the float64 reference grid,
// read back — metadata kept in order, file type and vkquant.* keys, planned tensor types, values
// equal to the reference decode — and the misuse and existing-output errors.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>

#include "common/float16.hpp"
#include "io/quantized_gguf_writer.hpp"
#include "model/gguf.hpp"
#include "model/gguf_test_bytes.hpp"
#include "reference/grid.hpp"
#include "support/test_seed.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::io {
namespace {

using model::GgmlType;
using model::GgufFile;
namespace fs = std::filesystem;

template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

ref::GridSpec grid_of(GgmlType t) {
  ref::GridSpec g;
  g.group = 32;
  switch (t) {
    case GgmlType::Q8_0: g.format = ref::GridFormat::Q8_0; break;
    case GgmlType::Q4_0: g.format = ref::GridFormat::Q4_0; break;
    case GgmlType::Q4_1: g.format = ref::GridFormat::Q4_1; break;
    case GgmlType::Q5_0: g.format = ref::GridFormat::Q5_0; break;
    case GgmlType::Q5_1: g.format = ref::GridFormat::Q5_1; break;
    default: throw Error("test: no grid for this type");
  }
  return g;
}

struct Encoded {
  ref::EncodedMatrix e;
  std::vector<float> d, m;
  std::vector<double> decoded;
};

// RTN on the float64 reference grid; d and m are the reference's (already fp16-rounded) parameters.
Encoded encode(const GgufFile& f, const TensorPlan& t) {
  const std::vector<float> w32 = f.read_f32(f.tensor(t.name));
  const std::vector<double> w(w32.begin(), w32.end());
  const ref::GridSpec g = grid_of(t.output_type);
  Encoded out;
  out.e = ref::encode_matrix(w.data(), t.rows(), t.cols(), g);
  for (const auto& p : out.e.params) {
    out.d.push_back(float(p.scale));
    out.m.push_back(float(p.min));
  }
  out.decoded = ref::decode_matrix(out.e, g);
  return out;
}

// Same type tags and values, recursively; floats bit for bit.
bool same_value(const model::GgufValue& a, const model::GgufValue& b) {
  if (a.type != b.type || a.array_type != b.array_type || a.data.index() != b.data.index()) return false;
  if (const auto* x = std::get_if<std::vector<model::GgufValue>>(&a.data)) {
    const auto& y = std::get<std::vector<model::GgufValue>>(b.data);
    if (x->size() != y.size()) return false;
    for (size_t i = 0; i < x->size(); ++i)
      if (!same_value((*x)[i], y[i])) return false;
    return true;
  }
  if (const auto* d = std::get_if<double>(&a.data)) return std::memcmp(d, &std::get<double>(b.data), sizeof(double)) == 0;
  if (const auto* u = std::get_if<uint64_t>(&a.data)) return *u == std::get<uint64_t>(b.data);
  if (const auto* i = std::get_if<int64_t>(&a.data)) return *i == std::get<int64_t>(b.data);
  if (const auto* t = std::get_if<bool>(&a.data)) return *t == std::get<bool>(b.data);
  return std::get<std::string>(a.data) == std::get<std::string>(b.data);
}

RunSettings settings() {
  RunSettings s;
  s.vkquant_version = "9.8.7-test";
  s.method = "rtn";
  s.type = "Q4_0";
  s.lambda = 0.25;
  s.alpha_mode = "sampled";
  s.saliency = "hdiag";
  s.scale_search = "search";
  s.alpha_beta = 3;
  s.calib_file = "tinystories_val.txt";
  s.calib_seqs = 16;
  s.calib_seq_len = 256;
  s.seed = 42;
  return s;
}

TEST(QuantizedGgufWriter, WritesQ4_0Stories260KThatReadsBack) {
  const std::string src_path = test::data_path("tinystories-260k/stories260K.gguf");
  const GgufFile src = GgufFile::open(src_path);
  const OutputPlan plan = plan_output(src, PlanOptions{GgmlType::Q4_0, {}, {}});
  test::TempDir dir;
  const std::string out_path = dir.file("q4.gguf");

  std::map<std::string, Encoded> encoded;
  {
    QuantizedGgufWriter w(src, plan, settings(), out_path);
    while (const TensorPlan* t = w.next()) {
      if (t->action == TensorAction::quantize) {
        Encoded e = encode(src, *t);
        w.write_quantized(t->name, e.e.codes, e.d, e.m);
        encoded.emplace(t->name, std::move(e));
      } else {
        w.write_from_input(t->name);
      }
    }
    EXPECT_FALSE(fs::exists(out_path));  // only OUT.partial until finish()
    w.finish();
  }
  ASSERT_TRUE(fs::exists(out_path));
  EXPECT_FALSE(fs::exists(out_path + ".partial"));

  const GgufFile out = GgufFile::open(out_path);
  // Every input key, in order and unchanged (general.file_type is new or replaced in place).
  size_t j = 0;
  for (const auto& [key, value] : src.metadata()) {
    while (j < out.metadata().size() && out.metadata()[j].first != key) ++j;
    ASSERT_LT(j, out.metadata().size()) << key << " missing or out of order";
    if (key == "general.file_type" || key == "general.quantization_version") continue;
    EXPECT_TRUE(same_value(out.metadata()[j].second, value)) << key;
  }
  EXPECT_EQ(out.get_u64("general.file_type"), 2u);
  EXPECT_EQ(out.get("general.file_type").type, model::GgufValueType::UINT32);
  EXPECT_EQ(out.get_u64("general.quantization_version"), 2u);
  EXPECT_EQ(out.get_string("vkquant.version"), "9.8.7-test");
  EXPECT_EQ(out.get_string("vkquant.method"), "rtn");
  EXPECT_EQ(out.get_string("vkquant.type"), "Q4_0");
  EXPECT_EQ(out.get_f64("vkquant.lambda"), 0.25);
  EXPECT_EQ(out.get_string("vkquant.alpha_mode"), "sampled");
  EXPECT_EQ(out.get_string("vkquant.saliency"), "hdiag");
  EXPECT_EQ(out.get_f64("vkquant.damp"), 0.01);
  EXPECT_TRUE(out.get("vkquant.act_order").as_bool("vkquant.act_order"));
  EXPECT_TRUE(out.get("vkquant.static_groups").as_bool("vkquant.static_groups"));
  EXPECT_EQ(out.get_u64("vkquant.block"), 128u);
  EXPECT_EQ(out.get_u64("vkquant.beam_width"), 1u);
  EXPECT_EQ(out.get_string("vkquant.scale_search"), "search");
  EXPECT_EQ(out.get_f64("vkquant.alpha_beta"), 3.0);
  EXPECT_EQ(out.get_string("vkquant.calib_file"), "tinystories_val.txt");
  EXPECT_EQ(out.get_u64("vkquant.calib_seqs"), 16u);
  EXPECT_EQ(out.get_u64("vkquant.calib_seq_len"), 256u);
  EXPECT_EQ(out.get_u64("vkquant.seed"), 42u);
  EXPECT_EQ(out.find("vkquant.bits"), nullptr);  // GGUF types imply their bits

  ASSERT_EQ(out.tensors().size(), plan.tensors.size());
  for (size_t i = 0; i < plan.tensors.size(); ++i) {
    const TensorPlan& t = plan.tensors[i];
    const auto& info = out.tensors()[i];
    SCOPED_TRACE(t.name);
    EXPECT_EQ(info.name, t.name);
    EXPECT_EQ(info.dims, t.dims);
    ASSERT_EQ(info.type, t.output_type);
    const std::vector<float> got = out.read_f32(info);
    const std::vector<float> orig = src.read_f32(src.tensor(t.name));
    ASSERT_EQ(got.size(), orig.size());
    if (t.action == TensorAction::quantize) {
      const auto& want = encoded.at(t.name).decoded;
      // Q4_0/Q8_0 decode d·(q − zero): an fp16 d times a small integer is exact in fp32, so the
      // only allowed difference is the fp32 rounding of the float64 reference value.
      for (size_t k = 0; k < got.size(); ++k) ASSERT_EQ(got[k], float(want[k])) << k;
    } else if (t.output_type == GgmlType::F16) {
      for (size_t k = 0; k < got.size(); ++k) ASSERT_EQ(got[k], half_to_float(float_to_half(orig[k]))) << k;
    } else {
      EXPECT_EQ(std::memcmp(out.tensor_data(info), src.tensor_data(src.tensor(t.name)), info.n_bytes()), 0);
    }
  }
}

TEST(QuantizedGgufWriter, FloatsAndMinimumsForQ4_1) {
  const GgufFile src = GgufFile::open(test::data_path("tinystories-260k/stories260K.gguf"));
  const OutputPlan plan = plan_output(src, PlanOptions{GgmlType::Q4_1, {}, GgmlType::BF16});
  test::TempDir dir;
  const std::string out_path = dir.file("q4_1.gguf");
  {
    QuantizedGgufWriter w(src, plan, settings(), out_path);
    while (const TensorPlan* t = w.next()) {
      if (t->action == TensorAction::quantize) {
        const Encoded e = encode(src, *t);
        w.write_quantized(t->name, e.e.codes, e.d, e.m);
      } else {
        // write_float from the input's values, e.g. what scale folding would hand over
        w.write_float(t->name, src.read_f32(src.tensor(t->name)));
      }
    }
    w.finish();
  }
  const GgufFile out = GgufFile::open(out_path);
  EXPECT_EQ(out.get_u64("general.file_type"), 3u);
  EXPECT_EQ(out.tensor("output.weight").type, GgmlType::BF16);
  EXPECT_EQ(out.tensor("blk.2.ffn_up.weight").type, GgmlType::Q4_1);
  const TensorPlan& up = *plan.find("blk.2.ffn_up.weight");
  const Encoded e = encode(src, up);
  const std::vector<float> got = out.read_f32(out.tensor(up.name));
  // d·q + m rounds once or twice in fp32 (ggml may fuse it): within 2 ulp of the fp64 value.
  for (size_t k = 0; k < got.size(); ++k)
    ASSERT_NEAR(got[k], e.decoded[k], 2 * std::ldexp(std::abs(e.decoded[k]) + std::abs(e.e.params[k / 32].min), -23)) << k;
  EXPECT_EQ(out.read_f32(out.tensor("blk.0.ffn_norm.weight")), src.read_f32(src.tensor("blk.0.ffn_norm.weight")));
}

TEST(QuantizedGgufWriter, ExistingOutputWithoutForceFailsAndLeavesNoPartial) {
  const GgufFile src = GgufFile::open(test::data_path("tinystories-260k/stories260K.gguf"));
  const OutputPlan plan = plan_output(src, PlanOptions{GgmlType::Q8_0, {}, {}});
  test::TempDir dir;
  const std::string out_path = dir.file("exists.gguf");
  test::write_file(out_path, {1, 2, 3});
  const std::string msg = error_of([&] { QuantizedGgufWriter w(src, plan, settings(), out_path); });
  EXPECT_NE(msg.find("--force"), std::string::npos) << msg;
  EXPECT_EQ(test::read_file(out_path), (std::vector<uint8_t>{1, 2, 3}));
  EXPECT_FALSE(fs::exists(out_path + ".partial"));

  // With force the file is replaced once complete.
  {
    QuantizedGgufWriter w(src, plan, settings(), out_path, true);
    while (const TensorPlan* t = w.next()) {
      if (t->action == TensorAction::quantize) {
        const Encoded e = encode(src, *t);
        w.write_quantized(t->name, e.e.codes, e.d);
      } else {
        w.write_from_input(t->name);
      }
    }
    w.finish();
  }
  EXPECT_EQ(GgufFile::open(out_path).get_u64("general.file_type"), 7u);
}

TEST(QuantizedGgufWriter, MisuseIsAnErrorAndAnAbandonedRunLeavesNothing) {
  const GgufFile src = GgufFile::open(test::data_path("tinystories-260k/stories260K.gguf"));
  const OutputPlan plan = plan_output(src, PlanOptions{GgmlType::Q4_1, {}, {}});
  test::TempDir dir;
  const std::string out_path = dir.file("abandoned.gguf");
  {
    QuantizedGgufWriter w(src, plan, settings(), out_path);
    const TensorPlan& first = *w.next();
    ASSERT_EQ(first.name, "token_embd.weight");
    ASSERT_EQ(first.action, TensorAction::quantize);
    EXPECT_NE(error_of([&] { w.write_from_input("blk.0.attn_norm.weight"); }).find("next is 'token_embd.weight'"),
              std::string::npos);
    EXPECT_NE(error_of([&] { w.write_from_input("token_embd.weight"); }).find("give its codes with write_quantized"),
              std::string::npos);
    EXPECT_NE(error_of([&] { w.write_float("token_embd.weight", std::vector<float>(64 * 512)); }).find("needs codes"),
              std::string::npos);
    const Encoded e = encode(src, first);
    EXPECT_NE(error_of([&] { w.write_quantized(first.name, e.e.codes, e.d); }).find("block minimums m"), std::string::npos);
    EXPECT_NE(error_of([&] { w.write_quantized(first.name, std::span(e.e.codes).first(10), e.d, e.m); }).find("10 codes"),
              std::string::npos);
    w.write_quantized(first.name, e.e.codes, e.d, e.m);
    EXPECT_NE(error_of([&] { w.finish(); }).find("'output_norm.weight' and 46 more were never written"),
              std::string::npos);
  }
  EXPECT_FALSE(fs::exists(out_path));
  EXPECT_FALSE(fs::exists(out_path + ".partial"));

  OutputPlan other = plan;
  other.tensors.pop_back();
  EXPECT_NE(error_of([&] { QuantizedGgufWriter w(src, other, settings(), dir.file("x.gguf")); }).find("the plan lists 47"),
            std::string::npos);
  EXPECT_FALSE(fs::exists(dir.file("x.gguf.partial")));
}

}  // namespace
}  // namespace vkq::io
