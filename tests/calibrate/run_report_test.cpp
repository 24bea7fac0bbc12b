// The run report: entries prefilled from the stories260K Q4_0 plan, written atomically as OUT.json
// and parsed back as JSON with every field; NaN loss becomes null; an existing report needs force.
#include <gtest/gtest.h>

#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>

#include "calibrate/run_report.hpp"
#include "model/gguf.hpp"
#include "model/gguf_test_bytes.hpp"
#include "support/test_seed.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::calibrate {
namespace {

namespace fs = std::filesystem;

RunReport stories_report(const std::string& output) {
  const auto file = model::GgufFile::open(test::data_path("tinystories-260k/stories260K.gguf"));
  const io::OutputPlan plan = io::plan_output(file, io::PlanOptions{model::GgmlType::Q4_0, {}, {}});
  RunReport r;
  r.input = file.path();
  r.output = output;
  r.settings.vkquant_version = "9.8.7-test";
  r.settings.method = "gptq";
  r.settings.calib_file = "tinystories_val.txt";
  r.settings.calib_seqs = 8;
  r.settings.calib_seq_len = 512;
  r.tensors = tensor_reports_from_plan(plan, "gptq");
  for (auto& t : r.tensors) {
    if (t.method == "gptq") {
      t.loss = 0.125;
      t.seconds = 0.5;
    }
  }
  r.tensors[1].damping_retries = {"Cholesky failed at column 3; damping 0.01 -> 0.1"};
  r.total_seconds = 12.5;
  r.peak_device_bytes = 123456789;
  r.peak_host_bytes = 987654321;
  r.calibration_notes = {"sequence length 2048 capped at the model's context length 512"};
  r.plan_notes = plan.notes;
  return r;
}

TEST(RunReport, EntriesFollowThePlan) {
  const RunReport r = stories_report("x.gguf");
  ASSERT_EQ(r.tensors.size(), 48u);
  const auto find = [&](const std::string& n) {
    return *std::find_if(r.tensors.begin(), r.tensors.end(), [&](const TensorReport& t) { return t.name == n; });
  };
  EXPECT_EQ(find("token_embd.weight").method, "rtn");
  EXPECT_EQ(find("output.weight").type, "Q8_0");
  EXPECT_EQ(find("blk.0.attn_q.weight").method, "gptq");
  EXPECT_EQ(find("blk.0.attn_norm.weight").method, "copy");
  const TensorReport down = find("blk.4.ffn_down.weight");
  EXPECT_EQ(down.method, "convert");
  EXPECT_EQ(down.type, "F16");
  EXPECT_EQ(down.rows, 64u);
  EXPECT_EQ(down.cols, 172u);
  EXPECT_EQ(down.fallback_reason, "blk.4.ffn_down.weight: 172 columns is not a multiple of 32, using F16 instead of Q4_0");
  EXPECT_EQ(find("blk.4.ffn_up.weight").fallback_reason, "");
}

TEST(RunReport, WritesValidJsonNextToTheOutput) {
  test::TempDir dir;
  const std::string out = dir.file("model-q4.gguf");
  const std::string path = report_path_for(out);
  EXPECT_EQ(path, out + ".json");
  RunReport r = stories_report(out);
  r.tensors[0].loss = std::numeric_limits<double>::quiet_NaN();
  write_run_report(r, path);
  EXPECT_FALSE(fs::exists(path + ".partial"));

  const std::vector<uint8_t> bytes = test::read_file(path);
  const nlohmann::json j = nlohmann::json::parse(bytes.begin(), bytes.end());
  EXPECT_EQ(j.at("vkquant_version"), "9.8.7-test");
  EXPECT_EQ(j.at("output"), out);
  EXPECT_EQ(j.at("total_seconds"), 12.5);
  EXPECT_EQ(j.at("peak_device_bytes"), 123456789u);
  EXPECT_EQ(j.at("peak_host_bytes"), 987654321u);
  EXPECT_EQ(j.at("calibration_notes").size(), 1u);
  EXPECT_FALSE(j.at("plan_notes").empty());
  const auto& s = j.at("settings");
  for (const char* k : {"method", "type", "lambda", "alpha_mode", "alpha", "alpha_beta", "saliency", "damp", "act_order",
                        "static_groups", "block", "beam_width", "scale_search", "calib_file", "calib_range", "calib_seqs",
                        "calib_seq_len", "seed"})
    EXPECT_TRUE(s.contains(k)) << k;
  EXPECT_FALSE(s.contains("bits"));  // GGUF type: bits implied
  EXPECT_EQ(s.at("calib_seq_len"), 512u);

  const auto& t = j.at("tensors");
  ASSERT_EQ(t.size(), 48u);
  for (const auto& e : t)
    for (const char* k : {"name", "type", "method", "loss", "rows", "cols", "seconds", "fallback_reason", "damping_retries"})
      EXPECT_TRUE(e.contains(k)) << k;
  EXPECT_TRUE(t[0].at("loss").is_null());  // NaN is not JSON
  EXPECT_EQ(t[1].at("damping_retries").size(), 1u);
  EXPECT_EQ(t[3].at("name"), "blk.0.attn_q.weight");  // after token_embd, output_norm, output
  EXPECT_EQ(t[3].at("method"), "gptq");
  EXPECT_EQ(t[3].at("loss"), 0.125);
  EXPECT_TRUE(t[2].at("loss").is_null());  // output.weight: RTN, no loss measured

  const std::string before(bytes.begin(), bytes.end());
  std::string msg;
  try {
    write_run_report(r, path);
  } catch (const Error& e) {
    msg = e.what();
  }
  EXPECT_NE(msg.find("--force"), std::string::npos) << msg;
  r.total_seconds = 1;
  write_run_report(r, path, true);
  const std::vector<uint8_t> after = test::read_file(path);
  EXPECT_EQ(nlohmann::json::parse(after.begin(), after.end()).at("total_seconds"), 1.0);
}

}  // namespace
}  // namespace vkq::calibrate
