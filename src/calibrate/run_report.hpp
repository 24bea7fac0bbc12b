// The run report of `vkquant quantize`: what was done to each tensor (type, method, loss, time,
// fallbacks, damping retries), the settings, total time, peak device memory and the calibration
// notes — written as JSON next to the output (OUT.json), atomically like the output itself.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "io/output_plan.hpp"
#include "io/quantized_gguf_writer.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::calibrate {

struct TensorReport {
  std::string name;
  std::string type;             // output type name, "Q4_0"
  std::string method;           // "gptq" / "beam" / "rtn" (quantized), "convert", "copy"
  std::optional<double> loss;   // tr((T − Q) H (T − Q)ᵀ)/rows when measured; null otherwise
  std::optional<double> alpha_star;  // closed-form α* when the run had α; absent otherwise
  uint64_t rows = 0, cols = 0;
  double seconds = 0;
  std::string fallback_reason;  // empty when the planned type is the one the rules chose
  std::vector<std::string> damping_retries;  // one message per failed factorisation
  std::optional<uint64_t> k_refit_rows;  // K types with gptq/beam: rows that kept a super-block refit
  std::optional<uint64_t> group_refit_rows;  // other types with --group-refits: rows that kept a group refit
  std::vector<uint64_t> expert_tokens;   // expert stacks: calibration tokens routed to each expert
  std::vector<uint32_t> pooled_experts;  // expert stacks: experts solved with the block's pooled statistics
};

struct RunReport {
  std::string input;            // model path
  std::string output;           // OUT path
  io::RunSettings settings;
  std::vector<TensorReport> tensors;
  double total_seconds = 0;
  uint64_t peak_device_bytes = 0;
  uint64_t peak_host_bytes = 0;  // peak RSS of the process
  uint64_t max_device_memory = 0;  // --max-device-memory; 0: none given
  uint64_t pipelines_compiled = 0;    // distinct compute pipelines the run compiled (each once)
  double pipeline_compile_seconds = 0;
  std::vector<std::string> memory_retries;  // what ran out of device memory, and how it was retried
  std::vector<std::string> calibration_notes;
  std::vector<std::string> plan_notes;
  std::vector<KernelTime> profile;  // with --profile: device time per kernel, the most first
};

// One entry per planned tensor with name, type, rows, cols, fallback reason and the method
// (`calibrated_method` for calibrated tensors, "rtn" for the other quantized ones).
std::vector<TensorReport> tensor_reports_from_plan(const io::OutputPlan& plan, const std::string& calibrated_method);

// The report as JSON text (keys: vkquant_version, input, output, settings{...}, tensors[{name,
// type, method, loss, rows, cols, seconds, fallback_reason, damping_retries, [alpha_star], [k_refit_rows], [group_refit_rows], [expert_tokens, pooled_experts]}], total_seconds,
// peak_device_bytes, peak_host_bytes, max_device_memory, pipelines{compiled, seconds}, memory_retries, calibration_notes, plan_notes, [profile[{kernel, dispatches, device_seconds}]]). A non-finite loss is written as null.
std::string run_report_json(const RunReport& report);

// The settings as the report's "settings" object (also a resume checkpoint's identity).
nlohmann::json settings_json(const io::RunSettings& s);

// OUT + ".json".
std::string report_path_for(const std::string& output_path);

// Writes run_report_json to `path` through io::AtomicFile (PATH.partial, then rename); an
// existing PATH without `force` is a vkq::Error.
void write_run_report(const RunReport& report, const std::string& path, bool force = false);

}  // namespace vkq::calibrate
