#include "calibrate/run_report.hpp"

#include <cmath>
#include <nlohmann/json.hpp>

#include "io/atomic_file.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::calibrate {

nlohmann::json settings_json(const io::RunSettings& s) {
  nlohmann::json j = {
      {"method", s.method},         {"type", s.type},
      {"lambda", s.lambda},         {"alpha_mode", s.alpha_mode},
      {"alpha", s.alpha},           {"alpha_beta", s.alpha_beta},
      {"saliency", s.saliency},
      {"damp", s.damp},             {"act_order", s.act_order},
      {"static_groups", s.static_groups}, {"block", s.block},
      {"beam_width", s.beam_width}, {"scale_search", s.scale_search},
      {"k_refits", s.k_refits},     {"group_refits", s.group_refits},
      {"min_expert_tokens", s.min_expert_tokens},
      {"calib_file", s.calib_file},
      {"calib_range", s.calib_range}, {"calib_protocol", s.calib_protocol},
      {"calib_rounded_embedding", s.calib_rounded_embedding}, {"calib_seqs", s.calib_seqs},
      {"activations", s.activations},
      {"calib_seq_len", s.calib_seq_len}, {"seed", s.seed},
  };
  if (s.bits > 0) {  // generic integer grid only, as in the GGUF keys
    j["bits"] = s.bits;
    j["group_size"] = s.group_size;
  }
  return j;
}

std::vector<TensorReport> tensor_reports_from_plan(const io::OutputPlan& plan, const std::string& calibrated_method) {
  std::vector<TensorReport> out;
  out.reserve(plan.tensors.size());
  for (const auto& t : plan.tensors) {
    TensorReport r;
    r.name = t.name;
    r.type = model::ggml_type_name(t.output_type);
    r.rows = t.rows();
    r.cols = t.cols();
    if (t.action == io::TensorAction::quantize) r.method = t.calibrated ? calibrated_method : "rtn";
    else r.method = io::tensor_action_name(t.action);
    if (t.fallback) r.fallback_reason = t.reason;
    out.push_back(std::move(r));
  }
  return out;
}

std::string run_report_json(const RunReport& report) {
  nlohmann::json tensors = nlohmann::json::array();
  for (const auto& t : report.tensors) {
    nlohmann::json loss = nullptr;  // JSON has no NaN/Inf: unmeasured or non-finite is null
    if (t.loss && std::isfinite(*t.loss)) loss = *t.loss;
    tensors.push_back({{"name", t.name},
                       {"type", t.type},
                       {"method", t.method},
                       {"loss", loss},
                       {"rows", t.rows},
                       {"cols", t.cols},
                       {"seconds", t.seconds},
                       {"fallback_reason", t.fallback_reason},
                       {"damping_retries", t.damping_retries}});
    if (t.alpha_star && std::isfinite(*t.alpha_star)) tensors.back()["alpha_star"] = *t.alpha_star;
    if (t.k_refit_rows) tensors.back()["k_refit_rows"] = *t.k_refit_rows;
    if (t.group_refit_rows) tensors.back()["group_refit_rows"] = *t.group_refit_rows;
    if (!t.expert_tokens.empty()) {
      tensors.back()["expert_tokens"] = t.expert_tokens;
      tensors.back()["pooled_experts"] = t.pooled_experts;
    }
  }
  nlohmann::json j = {
      {"vkquant_version", report.settings.vkquant_version},
      {"input", report.input},
      {"output", report.output},
      {"settings", settings_json(report.settings)},
      {"tensors", tensors},
      {"total_seconds", report.total_seconds},
      {"peak_device_bytes", report.peak_device_bytes},
      {"peak_host_bytes", report.peak_host_bytes},
      {"max_device_memory", report.max_device_memory},
      {"pipelines", {{"compiled", report.pipelines_compiled}, {"seconds", report.pipeline_compile_seconds}}},
      {"memory_retries", report.memory_retries},
      {"calibration_notes", report.calibration_notes},
      {"plan_notes", report.plan_notes},
  };
  if (!report.profile.empty()) {
    j["profile"] = nlohmann::json::array();
    for (const auto& k : report.profile)
      j["profile"].push_back({{"kernel", k.kernel}, {"dispatches", k.dispatches}, {"device_seconds", k.device_seconds}});
  }
  // replace: a non-UTF-8 byte in a path or note must not make the report unwritable
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::string report_path_for(const std::string& output_path) { return output_path + ".json"; }

void write_run_report(const RunReport& report, const std::string& path, bool force) {
  const std::string text = run_report_json(report);
  io::AtomicFile file(path, force);
  file.write(text.data(), text.size());
  file.commit();
}

}  // namespace vkq::calibrate
