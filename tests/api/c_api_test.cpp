// The C ABI's vkq_quantize, as a desktop application would call it: options as JSON, progress as
// JSON events through a C callback, the result as JSON, a plain int to cancel, and errors that
// name the offending key. A tiny calibration on stories260K keeps it quick on lavapipe.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include "support/hf_test_checkpoint.hpp"
#include "support/test_seed.hpp"
#include "vkquant/vkquant.h"

namespace vkq {
namespace {

namespace fs = std::filesystem;

struct ScratchDir {
  fs::path path = fs::temp_directory_path() / ("vkq-c-api-" + std::to_string(::getpid()));
  ScratchDir() {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~ScratchDir() { fs::remove_all(path); }
};

nlohmann::json tiny_options(const std::string& out) {
  return {{"model_path", test::data_path("tinystories-260k/stories260K.gguf")},
          {"calib_path", test::data_path("tinystories-valid/tinystories_val.txt")},
          {"output_path", out},
          {"type", "Q8_0"},
          {"calib_seqs", 2},
          {"calib_len", 64},
          {"calib_end", 0.5},
          {"seed", 7}};
}

struct Events {
  std::vector<nlohmann::json> list;
};

extern "C" void collect_event(const char* event_json, void* user) {
  static_cast<Events*>(user)->list.push_back(nlohmann::json::parse(event_json));
}

TEST(CApi, QuantizeReportsProgressAndResultAsJson) {
  ScratchDir dir;
  const std::string out = (dir.path / "tiny-q8_0.gguf").string();
  Events events;
  char* result = nullptr;
  const int rc = vkq_quantize(tiny_options(out).dump().c_str(), collect_event, &events, nullptr, &result);
  ASSERT_EQ(rc, 0) << vkq_last_error();
  ASSERT_NE(result, nullptr);
  const auto r = nlohmann::json::parse(result);
  vkq_free(result);

  EXPECT_EQ(r["output_path"], out);
  EXPECT_EQ(r["report_path"], out + ".json");
  EXPECT_TRUE(fs::exists(out));
  EXPECT_TRUE(fs::exists(out + ".json"));
  EXPECT_EQ(r["calibration_tokens"], 2 * 64);
  EXPECT_FALSE(r["evaluated"].get<bool>());
  EXPECT_FALSE(r.contains("profile"));  // only when asked for
  // Peak RSS: at least the model's 1 MiB of fp32 weights read into memory, and not absurd.
  EXPECT_GT(r["peak_host_bytes"].get<uint64_t>(), uint64_t(1) << 20);
  EXPECT_LT(r["peak_host_bytes"].get<uint64_t>(), uint64_t(16) << 30);
  bool saw_calibrated = false;
  for (const auto& t : r["tensors"]) {
    if (t["name"] == "blk.0.attn_q.weight") {
      saw_calibrated = true;
      EXPECT_EQ(t["type"], "Q8_0");
      EXPECT_EQ(t["method"], "gptq");
      EXPECT_GE(t["loss"].get<double>(), 0.0);
      EXPECT_EQ(t["rows"], 64);
      EXPECT_EQ(t["cols"], 64);
    }
  }
  EXPECT_TRUE(saw_calibrated);

  // Events: the documented fields, a fraction that never goes back, and a final "done" at 1.
  ASSERT_FALSE(events.list.empty());
  double last = 0;
  bool saw_calibrate = false;
  for (const auto& e : events.list) {
    for (const char* key : {"stage", "item", "step", "steps", "fraction", "elapsed_seconds", "eta_seconds", "message"})
      EXPECT_TRUE(e.contains(key)) << key << " missing from " << e.dump();
    EXPECT_GE(e["fraction"].get<double>(), last - 1e-12) << e.dump();
    last = e["fraction"].get<double>();
    saw_calibrate |= e["stage"] == "calibrate";
  }
  EXPECT_TRUE(saw_calibrate);
  EXPECT_EQ(events.list.back()["stage"], "done");
  EXPECT_DOUBLE_EQ(events.list.back()["fraction"].get<double>(), 1.0);
}

// "profile": device time per kernel, in the result and in the report, never more than the run's wall time.
TEST(CApi, ProfileListsTheKernelsTheRunDispatched) {
  ScratchDir dir;
  const std::string out = (dir.path / "tiny-profiled.gguf").string();
  auto o = tiny_options(out);
  o["profile"] = true;
  char* result = nullptr;
  ASSERT_EQ(vkq_quantize(o.dump().c_str(), nullptr, nullptr, nullptr, &result), 0) << vkq_last_error();
  const auto r = nlohmann::json::parse(result);
  vkq_free(result);
  ASSERT_TRUE(r.contains("profile")) << "lavapipe and every GPU we target have compute timestamps";
  std::map<std::string, nlohmann::json> by_kernel;
  double device_total = 0, previous = 1e300;
  for (const auto& k : r["profile"]) {
    by_kernel[k["kernel"]] = k;
    const double s = k["device_seconds"].get<double>();
    EXPECT_GE(s, 0.0) << k.dump();
    EXPECT_LE(s, previous) << "rows come the most device time first";
    previous = s;
    EXPECT_GT(k["dispatches"].get<uint64_t>(), 0u) << k.dump();
    device_total += s;
  }
  // Kernels every such run dispatches, in either of their forms (the device type picks one).
  const std::vector<std::vector<std::string>> expected = {{"gptq_sweep_block"},
                                                          {"copy"},
                                                          {"attention", "attention_rows"},
                                                          {"rms_norm", "rms_norm_rows"},
                                                          {"gram_accumulate", "gram_registers"}};
  for (const auto& forms : expected)
    EXPECT_TRUE(std::any_of(forms.begin(), forms.end(), [&](const std::string& k) { return by_kernel.count(k) > 0; }))
        << forms[0] << " missing from " << r["profile"].dump();
  EXPECT_LE(device_total, r["seconds"].get<double>());
  std::ifstream report(out + ".json");
  const auto rep = nlohmann::json::parse(report);
  ASSERT_TRUE(rep.contains("profile"));
  EXPECT_EQ(rep["profile"], r["profile"]);
}

TEST(CApi, UnknownOrMistypedKeyIsAnErrorNamingIt) {
  ScratchDir dir;
  const std::string out = (dir.path / "never.gguf").string();
  auto o = tiny_options(out);
  o["calib_sequences"] = 4;  // the field is calib_seqs
  char* result = reinterpret_cast<char*>(1);
  EXPECT_EQ(vkq_quantize(o.dump().c_str(), nullptr, nullptr, nullptr, &result), -1);
  EXPECT_EQ(result, nullptr);
  EXPECT_NE(std::string(vkq_last_error()).find("calib_sequences"), std::string::npos) << vkq_last_error();

  auto bad_type = tiny_options(out);
  bad_type["calib_seqs"] = "many";
  EXPECT_EQ(vkq_quantize(bad_type.dump().c_str(), nullptr, nullptr, nullptr, nullptr), -1);
  EXPECT_NE(std::string(vkq_last_error()).find("calib_seqs"), std::string::npos) << vkq_last_error();

  auto bad_overrides = tiny_options(out);
  bad_overrides["tensor_types"] = "attn_v=Q8_0";  // an array of strings
  EXPECT_EQ(vkq_quantize(bad_overrides.dump().c_str(), nullptr, nullptr, nullptr, nullptr), -1);
  EXPECT_NE(std::string(vkq_last_error()).find("tensor_types"), std::string::npos) << vkq_last_error();
  bad_overrides["tensor_types"] = nlohmann::json::array({"attn_v=Q9_9"});
  EXPECT_EQ(vkq_quantize(bad_overrides.dump().c_str(), nullptr, nullptr, nullptr, nullptr), -1);
  EXPECT_NE(std::string(vkq_last_error()).find("--tensor-type"), std::string::npos) << vkq_last_error();

  EXPECT_EQ(vkq_quantize("{not json", nullptr, nullptr, nullptr, nullptr), -1);
  EXPECT_NE(std::string(vkq_last_error()).find("JSON"), std::string::npos) << vkq_last_error();
  EXPECT_FALSE(fs::exists(out));
}

TEST(CApi, CancelTokenSetBeforeTheRunStopsItAndWritesNothing) {
  ScratchDir dir;
  const std::string out = (dir.path / "cancelled.gguf").string();
  vkq_cancel_token* cancel = vkq_cancel_token_new();
  ASSERT_NE(cancel, nullptr);
  vkq_cancel(cancel);  // set before the run: it must stop at the first check
  EXPECT_EQ(vkq_quantize(tiny_options(out).dump().c_str(), nullptr, nullptr, cancel, nullptr), 2);
  EXPECT_NE(std::string(vkq_last_error()).find("cancelled"), std::string::npos) << vkq_last_error();
  EXPECT_FALSE(fs::exists(out));
  EXPECT_FALSE(fs::exists(out + ".partial"));
  vkq_cancel_token_free(cancel);
}

// As an application's UI thread would: vkq_cancel from another thread while the run works.
TEST(CApi, CancelFromAnotherThreadStopsTheRunAndWritesNothing) {
  ScratchDir dir;
  const std::string out = (dir.path / "cancelled-late.gguf").string();
  vkq_cancel_token* cancel = vkq_cancel_token_new();
  ASSERT_NE(cancel, nullptr);
  struct Seen {
    std::atomic<int> events{0};
    std::atomic<bool> returned{false};
  } seen;
  const auto count = [](const char*, void* user) { static_cast<Seen*>(user)->events.fetch_add(1); };
  std::thread ui([&] {
    while (seen.events.load() < 3 && !seen.returned.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    vkq_cancel(cancel);
  });
  const int rc = vkq_quantize(tiny_options(out).dump().c_str(), count, &seen, cancel, nullptr);
  seen.returned = true;
  ui.join();
  EXPECT_EQ(rc, 2) << vkq_last_error();
  EXPECT_FALSE(fs::exists(out));
  EXPECT_FALSE(fs::exists(out + ".partial"));
  vkq_cancel_token_free(cancel);
}

TEST(CApi, ConvertWritesAHuggingFaceCheckpointAsGgufAndNamesBadKeys) {
  ScratchDir dir;
  const std::string folder = (dir.path / "tiny-hf").string(), out = (dir.path / "tiny.gguf").string();
  test::write_tiny_llama_checkpoint(folder, "BF16", 11);
  Events events;
  const nlohmann::json o = {{"model_path", folder}, {"output_path", out}, {"type", "auto"}};
  ASSERT_EQ(vkq_convert(o.dump().c_str(), collect_event, &events, nullptr), 0) << vkq_last_error();
  EXPECT_TRUE(fs::exists(out));
  EXPECT_FALSE(events.list.empty());
  EXPECT_EQ(vkq_convert(o.dump().c_str(), nullptr, nullptr, nullptr), -1);  // exists, no force
  EXPECT_NE(std::string(vkq_last_error()).find("--force"), std::string::npos) << vkq_last_error();
  nlohmann::json forced = o;
  forced["force"] = true;
  EXPECT_EQ(vkq_convert(forced.dump().c_str(), nullptr, nullptr, nullptr), 0) << vkq_last_error();
  nlohmann::json typo = o;
  typo["outptu_path"] = out;
  EXPECT_EQ(vkq_convert(typo.dump().c_str(), nullptr, nullptr, nullptr), -1);
  EXPECT_NE(std::string(vkq_last_error()).find("outptu_path"), std::string::npos) << vkq_last_error();
  nlohmann::json bad_type = forced;
  bad_type["type"] = "Q4_0";
  EXPECT_EQ(vkq_convert(bad_type.dump().c_str(), nullptr, nullptr, nullptr), -1);
  EXPECT_NE(std::string(vkq_last_error()).find("Q4_0"), std::string::npos) << vkq_last_error();
  // The folder itself is a model for vkq_quantize.
  nlohmann::json q = tiny_options((dir.path / "from-folder-q8_0.gguf").string());
  q["model_path"] = folder;
  EXPECT_EQ(vkq_quantize(q.dump().c_str(), nullptr, nullptr, nullptr, nullptr), 0) << vkq_last_error();
}

}  // namespace
}  // namespace vkq
