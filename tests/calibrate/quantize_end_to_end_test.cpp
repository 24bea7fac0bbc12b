// End to end through the public API (vkquant.hpp) on the real stories260K.gguf: quantize with
// calibration, write GGUF + report, read the file back, measure perplexity, check that GPTQ beats
// RTN, let the PyPI `gguf` package dequantize our files bit for bit, cancel a run, and repeat a
// run byte for byte. Kept small (CI: 2 cores, lavapipe): few short calibration sequences, four
// evaluation windows; calibration uses the first half of the text, evaluation the second half.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <unistd.h>
#include <vector>

#include "io/gguf_writer.hpp"
#include "io/output_plan.hpp"
#include "model/gguf.hpp"
#include "support/skip_unless_ci.hpp"
#include "support/test_seed.hpp"
#include "vkquant/vkquant.hpp"

#ifndef VKQ_PYTHON
#define VKQ_PYTHON ""
#endif
#ifndef VKQ_SOURCE_DIR
#define VKQ_SOURCE_DIR ""
#endif

namespace vkq {
namespace {

namespace fs = std::filesystem;

std::string model_path() { return test::data_path("tinystories-260k/stories260K.gguf"); }
std::string text_path() { return test::data_path("tinystories-valid/tinystories_val.txt"); }

// A fresh directory per test, removed at the end.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& name)
      : path_(fs::temp_directory_path() / ("vkq-e2e-" + name + "-" + std::to_string(::getpid()))) {
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~ScratchDir() { fs::remove_all(path_); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

QuantizeOptions small_run(const std::string& type, const std::string& output, uint32_t seqs, uint32_t len) {
  QuantizeOptions o;
  o.model_path = model_path();
  o.calib_path = text_path();
  o.output_path = output;
  o.type = type;
  o.calib_seqs = seqs;
  o.calib_len = len;
  o.calib_begin = 0.0;
  o.calib_end = 0.5;
  o.seed = 1234;
  return o;
}

void evaluate_on_second_half(QuantizeOptions& o) {
  o.eval_text_path = text_path();
  o.eval_begin = 0.5;
  o.eval_end = 1.0;
  o.eval_ctx = 256;
  o.eval_max_windows = 4;
}

PerplexityResult perplexity_on_second_half(const std::string& model) {
  PerplexityOptions p;
  p.model_path = model;
  p.text_path = text_path();
  p.text_begin = 0.5;
  p.text_end = 1.0;
  p.ctx = 256;
  p.max_windows = 4;
  return perplexity(p);
}

std::vector<char> file_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

TEST(QuantizeEndToEnd, Q4_0GptqWritesPlannedTypesReportAndKeepsPerplexityNearFp32) {
  ScratchDir dir("q4_0");
  const std::string out = dir.file("q4_0.gguf");
  const QuantizeResult r = quantize(small_run("Q4_0", out, 8, 256));
  ASSERT_TRUE(fs::exists(out));
  EXPECT_FALSE(fs::exists(out + ".partial"));
  EXPECT_EQ(r.output_path, out);
  EXPECT_EQ(r.report_path, out + ".json");
  EXPECT_EQ(r.calibration_tokens, 8u * 256u);

  // The file holds exactly the planned tensors, each in its planned type.
  const auto input = model::GgufFile::open(model_path());
  io::PlanOptions po;
  po.type = model::GgmlType::Q4_0;
  po.imatrix = true;  // a calibrated run's plan: the output head is calibrated too
  const io::OutputPlan plan = io::plan_output(input, po);
  const auto written = model::GgufFile::open(out);
  ASSERT_EQ(written.tensors().size(), plan.tensors.size());
  size_t quantized = 0;
  for (const auto& t : plan.tensors) {
    const auto* w = written.find_tensor(t.name);
    ASSERT_NE(w, nullptr) << t.name;
    EXPECT_EQ(w->type, t.output_type) << t.name;
    EXPECT_EQ(w->dims, t.dims) << t.name;
    quantized += t.output_type == model::GgmlType::Q4_0;
  }
  EXPECT_GT(quantized, 0u);

  // The report has one entry per tensor and a finite, non-negative loss for every calibrated one.
  const auto report = nlohmann::json::parse(file_bytes(r.report_path));
  ASSERT_EQ(report["tensors"].size(), plan.tensors.size());
  size_t calibrated = 0;
  for (const auto& t : report["tensors"]) {
    const auto* p = plan.find(t["name"].get<std::string>());
    ASSERT_NE(p, nullptr) << t["name"];
    EXPECT_EQ(t["type"].get<std::string>(), model::ggml_type_name(p->output_type)) << t["name"];
    if (p->action == io::TensorAction::quantize && p->calibrated) {
      ++calibrated;
      EXPECT_EQ(t["method"], "gptq") << t["name"];
      ASSERT_TRUE(t["loss"].is_number()) << t["name"];
      EXPECT_TRUE(std::isfinite(t["loss"].get<double>()) && t["loss"].get<double>() >= 0) << t["name"];
    }
  }
  EXPECT_GT(calibrated, 0u);

  const double fp32 = perplexity_on_second_half(model_path()).perplexity;
  const double q4 = perplexity_on_second_half(out).perplexity;
  std::printf("perplexity on the second half, 4 windows of 256: FP32 %.4f, Q4_0 GPTQ %.4f (%+.1f%%)\n", fp32, q4,
              100 * (q4 / fp32 - 1));
  ASSERT_TRUE(std::isfinite(fp32) && std::isfinite(q4));
  // Measured on lavapipe: FP32 5.485, Q4_0 default (GPTQ + scale search) 5.550 (+1.2%; min-max GPTQ was
  // +3.9%). The quality bound lives in DefaultBeatsPlainRtnOnHeldOutTextBeyondSeedSpread; this one only
  // catches a broken solver or packing (perplexity in the tens or more) on any device.
  EXPECT_LT(q4, 1.15 * fp32);
  EXPECT_GT(q4, 0.9 * fp32);  // 4-bit noise cannot make the model markedly better: that would be a bug
}

// stories260K without output.weight: llama.cpp then uses the token embedding as the head (tied).
// The report must let a person reproduce the file: every setting as the run used it.
TEST(QuantizeEndToEnd, RunReportRecordsTheSettingsOfTheRun) {
  ScratchDir dir("settings");
  const std::string out = dir.file("settings.gguf");
  QuantizeOptions o = small_run("Q4_1", out, 3, 64);
  o.calib_begin = 0.25;
  o.lambda = 0.05;
  o.saliency = "hdiag";
  o.scale_search = false;
  o.clip_search = true;
  o.damp = 0.02;
  o.block = 64;
  o.seed = 7;
  o.activations = "f16";
  const QuantizeResult r = quantize(o);
  const auto s = nlohmann::json::parse(file_bytes(r.report_path)).at("settings");
  EXPECT_EQ(s.at("type"), "Q4_1");
  EXPECT_EQ(s.at("method"), "gptq");
  EXPECT_EQ(s.at("calib_file"), "tinystories_val.txt");
  EXPECT_EQ(s.at("calib_range"), "0.25:0.5");
  EXPECT_EQ(s.at("calib_seqs"), 3);
  EXPECT_EQ(s.at("calib_seq_len"), 64);
  EXPECT_EQ(s.at("calib_protocol"), "sampled");
  EXPECT_EQ(s.at("saliency"), "hdiag");
  EXPECT_DOUBLE_EQ(s.at("lambda").get<double>(), 0.05);
  EXPECT_DOUBLE_EQ(s.at("damp").get<double>(), 0.02);
  EXPECT_EQ(s.at("block"), 64);
  EXPECT_EQ(s.at("scale_search"), "clip");
  EXPECT_EQ(s.at("seed"), 7);
  EXPECT_EQ(s.at("activations"), "f16");
  EXPECT_EQ(s.at("act_order"), true);
  // The GGUF's metadata records the same settings.
  const auto written = model::GgufFile::open(out);
  EXPECT_EQ(written.get_string("vkquant.saliency"), "hdiag");
  EXPECT_EQ(written.get_string("vkquant.scale_search"), "clip");
  EXPECT_EQ(written.get_string("vkquant.activations"), "f16");
}

void write_tied_copy(const std::string& from, const std::string& to) {
  const auto src = model::GgufFile::open(from);
  io::GgufWriter w(to, true);
  w.copy_metadata(src);
  for (const auto& t : src.tensors()) {
    if (t.name == "output.weight") continue;
    const uint8_t* data = src.tensor_data(t);
    w.add_tensor(t.name, t.dims, t.type, std::vector<uint8_t>(data, data + t.n_bytes()));
  }
  w.write();
}

// The in-process evaluation holds what the file holds: the embedding rounded (before calibration with
// calib_rounded_embedding, else after it) and the head solved on the Gram of the final-norm outputs
// (tied: the one table serves both roles). Before, it kept the embedding and head at input precision.
TEST(QuantizeEndToEnd, InProcessEvaluationSeesTheFileIncludingEmbeddingAndHead) {
  for (const bool tied : {false, true}) {
    SCOPED_TRACE(tied ? "tied embedding" : "separate output head");
    ScratchDir dir(tied ? "tied" : "untied");
    QuantizeOptions o = small_run("Q4_0", dir.file("out.gguf"), 4, 128);
    if (tied) {
      o.model_path = dir.file("tied.gguf");
      write_tied_copy(model_path(), o.model_path);
      o.calib_rounded_embedding = true;  // both places where the rounded embedding enters are covered
    }
    o.eval_text_path = text_path();
    o.eval_begin = 0.5;
    o.eval_ctx = 128;
    o.eval_max_windows = 8;
    o.eval_protocol = PerplexityProtocol::Llama;
    const QuantizeResult r = quantize(o);
    const std::string head = tied ? "token_embd.weight" : "output.weight";
    bool found = false;
    for (const auto& t : r.tensors) {
      if (t.name == head) {
        found = true;
        EXPECT_EQ(t.method, "gptq");
        EXPECT_EQ(t.type, "Q8_0");  // llama-quantize's Q6_K, which vkquant cannot write yet
        EXPECT_TRUE(std::isfinite(t.loss) && t.loss >= 0) << t.loss;
      } else if (t.name == "token_embd.weight") {
        EXPECT_EQ(t.method, "rtn");
        EXPECT_EQ(t.type, "Q4_0");
      }
    }
    EXPECT_TRUE(found) << head;
    PerplexityOptions p;
    p.model_path = r.output_path;
    p.text_path = text_path();
    p.text_begin = 0.5;
    p.ctx = 128;
    p.max_windows = 8;
    p.protocol = PerplexityProtocol::Llama;
    const PerplexityResult f = perplexity(p);
    // Same device, same values (codes x fp16 scales, dequantized on the device vs on the host): measured
    // identical to the printed digits; 1e-5 relative leaves room for one-ulp dequantization differences.
    EXPECT_NEAR(r.evaluation.perplexity, f.perplexity, 1e-5 * f.perplexity);
    std::printf("%s: in-process %.6f, file %.6f\n", tied ? "tied" : "untied", r.evaluation.perplexity, f.perplexity);
  }
}

TEST(QuantizeEndToEnd, GptqIsNotWorseThanRtnAtGeneric3Bit) {
  // INT3g32 cannot be stored in GGUF: evaluation only, in the same run, on the same slices.
  auto run = [](const std::string& method) {
    QuantizeOptions o = small_run("INT3g32", "", 4, 128);
    o.method = method;
    evaluate_on_second_half(o);
    const QuantizeResult r = quantize(o);
    EXPECT_TRUE(r.output_path.empty());
    EXPECT_TRUE(r.evaluated);
    return r.evaluation.perplexity;
  };
  const double gptq = run("gptq"), rtn = run("rtn");
  std::printf("INT3g32 perplexity: GPTQ %.4f, RTN %.4f\n", gptq, rtn);
  ASSERT_TRUE(std::isfinite(gptq) && std::isfinite(rtn));
  // Measured on lavapipe (both with the default scale search): GPTQ 7.30, RTN 7.64 (min-max RTN 9.76);
  // error feedback must help at 3 bits.
  EXPECT_LE(gptq, rtn);
}

// Issue 11's honest bound: the default method (GPTQ with the scale search) against plain round-to-nearest
// (min-max scales), on held-out text, at Q4_0 and at a 3-bit grid, for three calibration draws. The setting
// is bench/quality/generalization's (16 × 256 tokens of the first half, 64 windows of 256 of the second),
// whose three seeds measured (lavapipe) Q4_0: default 6.7787–6.8307 (sd 0.029), plain GPTQ 6.867–6.892,
// plain RTN 6.9299; INT3g32: default 8.976–9.056 (sd 0.040), plain RTN 11.7613 (docs/quality.md).
TEST(QuantizeEndToEnd, DefaultBeatsPlainRtnOnHeldOutTextBeyondSeedSpread) {
  auto run = [](const std::string& type, uint64_t seed, bool plain_rtn) {
    ScratchDir dir("honest");
    QuantizeOptions o = small_run(type, type.rfind("INT", 0) == 0 ? "" : dir.file("out.gguf"), 16, 256);
    o.seed = seed;
    if (plain_rtn) {
      o.method = "rtn";
      o.scale_search = false;
    }
    o.write_report = false;
    evaluate_on_second_half(o);
    o.eval_max_windows = 64;
    const QuantizeResult r = quantize(o);
    EXPECT_TRUE(r.evaluated);
    return r.evaluation.perplexity;
  };
  // Q4_0: RTN − 0.05 sits 1.7 seed-sd above the worst measured draw, and below all of plain GPTQ's, so
  // losing the scale search fails it. INT3g32: error feedback alone is worth > 2.5; 0.5 below RTN's is
  // loose on purpose (12 sd), a broken solve still fails it.
  for (const auto& [type, margin] : {std::pair<std::string, double>{"Q4_0", 0.05}, {"INT3g32", 0.5}}) {
    const double rtn = run(type, 1, true);
    ASSERT_TRUE(std::isfinite(rtn)) << type;
    for (uint64_t seed : {1u, 2u, 3u}) {
      const double d = run(type, seed, false);
      std::printf("%s seed %llu: default %.4f, plain RTN %.4f\n", type.c_str(), (unsigned long long)seed, d, rtn);
      EXPECT_LT(d, rtn - margin) << type << " seed " << seed;
    }
  }
}

TEST(QuantizeEndToEnd, PythonGgufReadsEveryTypeBitForBit) {
  const std::string python = VKQ_PYTHON;
  if (python.empty() || !fs::exists(python)) VKQ_SKIP_UNLESS_CI("no Python environment with the gguf package (" << python << ")");
  for (const std::string type : {"Q8_0", "Q5_1", "Q5_0", "Q4_1", "Q4_0"}) {
    SCOPED_TRACE(type);
    ScratchDir dir("xcheck-" + type);
    const std::string out = dir.file("out.gguf");
    quantize(small_run(type, out, 2, 64));
    // Our dequantized values of every tensor (quantized or not), as the cross-check expects.
    const auto file = model::GgufFile::open(out);
    size_t of_type = 0;
    for (const auto& t : file.tensors()) {
      of_type += model::ggml_type_name(t.type) == type;
      const auto values = file.read_f32(t);
      std::ofstream(dir.file(t.name + ".f32"), std::ios::binary)
          .write(reinterpret_cast<const char*>(values.data()), std::streamsize(values.size() * 4));
    }
    const std::string cmd = python + " " + VKQ_SOURCE_DIR + "/tests/python/gguf_cross_check.py " + out + " " +
                            dir.path().string() + " 2>&1";
    FILE* pipe = ::popen(cmd.c_str(), "r");
    ASSERT_NE(pipe, nullptr);
    std::string output;
    char buf[512];
    while (std::fgets(buf, sizeof buf, pipe)) output += buf;
    const int status = ::pclose(pipe);
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    EXPECT_GT(of_type, 0u) << "no tensor of type " << type << " in " << out;
    if (code == 77) VKQ_SKIP_UNLESS_CI(output);
    EXPECT_EQ(code, 0) << output;
    const size_t last_line = output.rfind('\n', output.size() - 2);  // the summary; details on failure
    std::printf("%s: %s", type.c_str(), output.substr(last_line == std::string::npos ? 0 : last_line + 1).c_str());
  }
}

TEST(QuantizeEndToEnd, CancelFromProgressCallbackWritesNothing) {
  ScratchDir dir("cancel");
  const std::string out = dir.file("cancelled.gguf");
  CancelFlag cancel{false};
  bool calibrating = false;
  const ProgressCallback progress = [&](const ProgressEvent& e) {
    if (e.stage == "calibrate") {
      calibrating = true;
      cancel = true;
    }
  };
  EXPECT_THROW(quantize(small_run("Q4_0", out, 2, 64), progress, &cancel), Cancelled);
  EXPECT_TRUE(calibrating);
  EXPECT_FALSE(fs::exists(out));
  EXPECT_FALSE(fs::exists(out + ".partial"));
  EXPECT_FALSE(fs::exists(out + ".json"));
}

// --activations f16 halves the host copy of the calibration activations: each value is rounded to fp16 once
// per block, which must change the solution only at the level of that rounding.
TEST(QuantizeEndToEnd, Fp16ActivationsStayCloseToFp32) {
  ScratchDir dir("activations");
  QuantizeOptions o = small_run("Q4_0", dir.file("f32.gguf"), 8, 128);
  evaluate_on_second_half(o);
  const QuantizeResult f32 = quantize(o);
  o.output_path = dir.file("f16.gguf");
  o.activations = "f16";
  const QuantizeResult f16 = quantize(o);
  ASSERT_TRUE(f32.evaluated && f16.evaluated);
  double loss32 = 0, loss16 = 0;
  size_t differ = 0;
  for (size_t i = 0; i < f32.tensors.size(); ++i) {
    ASSERT_EQ(f32.tensors[i].name, f16.tensors[i].name);
    if (f32.tensors[i].loss < 0) continue;
    loss32 += f32.tensors[i].loss, loss16 += f16.tensors[i].loss;
    differ += f32.tensors[i].loss != f16.tensors[i].loss;
  }
  EXPECT_GT(differ, 0u) << "f16 storage changed nothing: the option is not applied";
  EXPECT_NEAR(loss16, loss32, 0.02 * loss32);
  EXPECT_NEAR(f16.evaluation.perplexity, f32.evaluation.perplexity, 0.005 * f32.evaluation.perplexity);
  o.activations = "bf8";
  EXPECT_THROW(quantize(o), Error);
}

// The attention outputs saved at a block's AttnOutput stage and reused by its later stages and the
// propagation, in both chains (α > 0 runs the full-precision chain), are exactly what recomputing gives.
TEST(QuantizeEndToEnd, SavedAttentionOutputsChangeNoByteOfTheFile) {
  ScratchDir dir("attention-cache");
  const std::string saved = dir.file("saved.gguf"), recomputed = dir.file("recomputed.gguf");
  QuantizeOptions o = small_run("Q4_0", saved, 3, 96);
  o.write_report = false;  // the report holds timings
  o.alpha_mode = "sampled";
  o.chunk_tokens = 128;  // two chunks: the saved values are addressed per chunk
  quantize(o);
  o.output_path = recomputed;
  ::setenv("VKQ_RECOMPUTE_ATTENTION", "1", 1);
  quantize(o);
  ::unsetenv("VKQ_RECOMPUTE_ATTENTION");
  const auto a = file_bytes(saved), b = file_bytes(recomputed);
  ASSERT_FALSE(a.empty());
  EXPECT_TRUE(a == b) << "saving the attention outputs changed the file (" << a.size() << " and " << b.size() << " bytes)";
}

// Every solve and the embedding's rounding in row tiles of 16 KiB (the whole path a large vocabulary's head
// and table take, on a model small enough for CI): the same file, byte for byte.
TEST(QuantizeEndToEnd, RowTilesChangeNoByteOfTheFile) {
  ScratchDir dir("row-tiles");
  const std::string whole = dir.file("whole.gguf"), tiled = dir.file("tiled.gguf");
  QuantizeOptions o = small_run("Q4_1", whole, 2, 96);
  o.write_report = false;  // the report holds timings
  o.alpha = 0.25;          // α* sums over the tiles too
  quantize(o);
  o.output_path = tiled;
  ::setenv("VKQ_ROW_TILE_BYTES", "16384", 1);  // 64 rows of the 64-wide embedding and head, 23 of ffn_down
  quantize(o);
  ::unsetenv("VKQ_ROW_TILE_BYTES");
  const auto a = file_bytes(whole), b = file_bytes(tiled);
  ASSERT_FALSE(a.empty());
  EXPECT_TRUE(a == b) << "row tiles changed the file (" << a.size() << " and " << b.size() << " bytes)";
}

TEST(QuantizeEndToEnd, SameOptionsAndSeedGiveIdenticalFiles) {
  ScratchDir dir("determinism");
  const std::string a = dir.file("a.gguf"), b = dir.file("b.gguf");
  QuantizeOptions o = small_run("Q4_1", a, 2, 128);
  o.write_report = false;  // the report holds timings
  quantize(o);
  o.output_path = b;
  quantize(o);
  const auto ba = file_bytes(a), bb = file_bytes(b);
  ASSERT_FALSE(ba.empty());
  EXPECT_TRUE(ba == bb) << "two runs with seed " << o.seed << " wrote different files (" << ba.size() << " and "
                        << bb.size() << " bytes)";
}

}  // namespace
}  // namespace vkq
