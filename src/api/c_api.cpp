// The C ABI (vkquant.h) over the C++ API: exceptions become status codes + vkq_last_error().
#include "vkquant/vkquant.h"

#include <nlohmann/json.hpp>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <algorithm>
#include <map>
#include <string>
#include <new>

#include "vkquant/vkquant.hpp"

namespace {

thread_local std::string g_last_error;

char* copy_string(const std::string& s) {
  char* out = static_cast<char*>(std::malloc(s.size() + 1));
  if (out) std::memcpy(out, s.c_str(), s.size() + 1);
  return out;
}

std::string selftest_json(const vkq::SelftestReport& r) {
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& row : r.rows)
    rows.push_back({{"kernel", row.kernel}, {"shape", row.shape}, {"metric", row.metric}, {"error", row.max_error},
                    {"tolerance", row.tolerance}, {"ms", row.millis}, {"passed", row.passed}, {"message", row.message}});
  return nlohmann::json{{"device", r.device}, {"seed", r.seed}, {"rows", rows},
                        {"validation_messages", r.validation_messages}, {"passed", r.all_passed()}}
      .dump(2);
}

// vkq_quantize's options: every QuantizeOptions field by its C++ name, with a checked JSON type.
using OptionSetter = std::function<void(vkq::QuantizeOptions&, const nlohmann::json&, const std::string&)>;

void need(bool ok, const std::string& key, const char* what) {
  if (!ok) throw vkq::Error("vkq_quantize options: \"" + key + "\" must be " + what);
}

OptionSetter string_field(std::string vkq::QuantizeOptions::*f) {
  return [f](vkq::QuantizeOptions& o, const nlohmann::json& v, const std::string& key) {
    need(v.is_string(), key, "a string");
    o.*f = v.get<std::string>();
  };
}
OptionSetter bool_field(bool vkq::QuantizeOptions::*f) {
  return [f](vkq::QuantizeOptions& o, const nlohmann::json& v, const std::string& key) {
    need(v.is_boolean(), key, "true or false");
    o.*f = v.get<bool>();
  };
}
OptionSetter double_field(double vkq::QuantizeOptions::*f) {
  return [f](vkq::QuantizeOptions& o, const nlohmann::json& v, const std::string& key) {
    need(v.is_number(), key, "a number");
    o.*f = v.get<double>();
  };
}
OptionSetter u32_field(uint32_t vkq::QuantizeOptions::*f) {
  return [f](vkq::QuantizeOptions& o, const nlohmann::json& v, const std::string& key) {
    need(v.is_number_unsigned() && v.get<uint64_t>() <= std::numeric_limits<uint32_t>::max(), key,
         "an integer from 0 to 4294967295");
    o.*f = uint32_t(v.get<uint64_t>());
  };
}
OptionSetter u64_field(uint64_t vkq::QuantizeOptions::*f) {
  return [f](vkq::QuantizeOptions& o, const nlohmann::json& v, const std::string& key) {
    need(v.is_number_unsigned(), key, "a non-negative integer");
    o.*f = v.get<uint64_t>();
  };
}

const std::map<std::string, OptionSetter>& option_setters() {
  using O = vkq::QuantizeOptions;
  static const std::map<std::string, OptionSetter> m = {
      {"model_path", string_field(&O::model_path)},
      {"tokenizer_path", string_field(&O::tokenizer_path)},
      {"calib_path", string_field(&O::calib_path)},
      {"output_path", string_field(&O::output_path)},
      {"force", bool_field(&O::force)},
      {"type", string_field(&O::type)},
      {"token_embedding_type", string_field(&O::token_embedding_type)},
      {"output_tensor_type", string_field(&O::output_tensor_type)},
      {"tensor_types",
       [](O& o, const nlohmann::json& v, const std::string& key) {
         need(v.is_array() && std::all_of(v.begin(), v.end(), [](const nlohmann::json& e) { return e.is_string(); }), key,
              "an array of \"PATTERN=TYPE\" strings");
         o.tensor_types = v.get<std::vector<std::string>>();
       }},
      {"method", string_field(&O::method)},
      {"beam_width", u32_field(&O::beam_width)},
      {"k_refits", u32_field(&O::k_refits)},
      {"group_refits", u32_field(&O::group_refits)},
      {"min_expert_tokens", u32_field(&O::min_expert_tokens)},
      {"damp", double_field(&O::damp)},
      {"lambda", double_field(&O::lambda)},
      {"saliency", string_field(&O::saliency)},
      {"alpha_mode", string_field(&O::alpha_mode)},
      {"alpha", double_field(&O::alpha)},
      {"alpha_beta", double_field(&O::alpha_beta)},
      {"act_order", bool_field(&O::act_order)},
      {"static_groups", bool_field(&O::static_groups)},
      {"block", u32_field(&O::block)},
      {"clip_search", bool_field(&O::clip_search)},
      {"scale_search", bool_field(&O::scale_search)},
      {"calib_seqs", u32_field(&O::calib_seqs)},
      {"calib_len", u32_field(&O::calib_len)},
      {"calib_begin", double_field(&O::calib_begin)},
      {"calib_end", double_field(&O::calib_end)},
      {"seed", u64_field(&O::seed)},
      {"chunk_tokens", u32_field(&O::chunk_tokens)},
      {"max_device_memory", u64_field(&O::max_device_memory)},
      {"dry_run", bool_field(&O::dry_run)},
      {"checkpoint", bool_field(&O::checkpoint)},
      {"resume", bool_field(&O::resume)},
      {"activations", string_field(&O::activations)},
      {"device", string_field(&O::device)},
      {"write_report", bool_field(&O::write_report)},
      {"profile", bool_field(&O::profile)},
      {"imatrix_out_path", string_field(&O::imatrix_out_path)},
      {"eval_text_path", string_field(&O::eval_text_path)},
      {"eval_begin", double_field(&O::eval_begin)},
      {"eval_end", double_field(&O::eval_end)},
      {"eval_ctx", u32_field(&O::eval_ctx)},
      {"eval_max_windows", u32_field(&O::eval_max_windows)},
      {"calib_rounded_embedding", bool_field(&O::calib_rounded_embedding)},
      {"calib_protocol",
       [](O& o, const nlohmann::json& v, const std::string& key) {
         need(v.is_string() && (v == "sampled" || v == "llama"), key, "\"sampled\" or \"llama\"");
         o.calib_protocol = v == "llama" ? vkq::CalibrationProtocol::Llama : vkq::CalibrationProtocol::Sampled;
       }},
      {"eval_protocol",
       [](O& o, const nlohmann::json& v, const std::string& key) {
         need(v.is_string() && (v == "windows" || v == "llama"), key, "\"windows\" or \"llama\"");
         o.eval_protocol = v == "llama" ? vkq::PerplexityProtocol::Llama : vkq::PerplexityProtocol::Windows;
       }},
  };
  return m;
}

vkq::QuantizeOptions parse_quantize_options(const char* text) {
  if (!text) throw vkq::Error("vkq_quantize: options_json is NULL");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw vkq::Error(std::string("vkq_quantize options: not valid JSON: ") + e.what());
  }
  if (!j.is_object()) throw vkq::Error("vkq_quantize options: expected a JSON object");
  vkq::QuantizeOptions o;
  const auto& setters = option_setters();
  for (const auto& [key, value] : j.items()) {
    const auto it = setters.find(key);
    if (it == setters.end()) throw vkq::Error("vkq_quantize options: unknown key \"" + key + "\"");
    it->second(o, value, key);
  }
  return o;
}

// The C status of a call: 0 when it returns, 2 when cancelled, -1 on an error (kept for vkq_last_error).
template <typename F>
int run_with_status(F&& call) {
  try {
    call();
    return 0;
  } catch (const vkq::Cancelled& e) {
    g_last_error = e.what();
    return 2;
  } catch (const std::exception& e) {
    g_last_error = e.what();
    return -1;
  }
}

std::string event_json(const vkq::ProgressEvent& e);

vkq::ProgressCallback progress_callback(vkq_progress_fn progress, void* user) {
  if (!progress) return {};
  return [progress, user](const vkq::ProgressEvent& e) { progress(event_json(e).c_str(), user); };
}

std::string event_json(const vkq::ProgressEvent& e) {
  return nlohmann::json{{"stage", e.stage}, {"item", e.item}, {"step", e.step}, {"steps", e.steps},
                        {"fraction", e.fraction}, {"elapsed_seconds", e.elapsed_seconds},
                        {"eta_seconds", e.eta_seconds}, {"message", e.message}}
      .dump();
}

nlohmann::json perplexity_json(const vkq::PerplexityResult& r) {
  return {{"perplexity", r.perplexity}, {"mean_nll", r.mean_nll}, {"windows", r.windows}, {"tokens", r.tokens},
          {"ctx", r.ctx}, {"device", r.device}, {"seconds", r.seconds}};
}

std::string quantize_result_json(const vkq::QuantizeResult& r) {
  nlohmann::json tensors = nlohmann::json::array();
  for (const auto& t : r.tensors)
    tensors.push_back({{"name", t.name}, {"type", t.type}, {"method", t.method}, {"loss", t.loss}, {"alpha_star", t.alpha_star}, {"rows", t.rows},
                       {"cols", t.cols}, {"seconds", t.seconds}, {"note", t.note},
                       {"damping_retries", t.damping_retries}, {"k_refit_rows", t.k_refit_rows},
                       {"group_refit_rows", t.group_refit_rows}, {"expert_tokens", t.expert_tokens},
                       {"pooled_experts", t.pooled_experts}});
  nlohmann::json j = {{"output_path", r.output_path}, {"report_path", r.report_path}, {"device", r.device},
                      {"tensors", tensors}, {"notes", r.notes}, {"seconds", r.seconds},
                      {"peak_device_bytes", r.peak_device_bytes}, {"peak_host_bytes", r.peak_host_bytes},
                      {"memory_retries", r.memory_retries}, {"calibration_tokens", r.calibration_tokens},
                      {"dry_run", r.dry_run}, {"estimated_device_bytes", r.memory.device_peak},
                      {"estimated_host_bytes", r.memory.host_peak},
                      {"evaluated", r.evaluated}};
  if (r.evaluated) j["evaluation"] = perplexity_json(r.evaluation);
  if (!r.profile.empty()) {
    j["profile"] = nlohmann::json::array();
    for (const auto& k : r.profile)
      j["profile"].push_back({{"kernel", k.kernel}, {"dispatches", k.dispatches}, {"device_seconds", k.device_seconds}});
  }
  return j.dump(2);
}

}  // namespace

// The C side's handle on an atomic flag: set from any thread (or a signal handler), read by the run.
struct vkq_cancel_token {
  vkq::CancelFlag flag{false};
};

extern "C" {

const char* vkq_version(void) { return vkq::version(); }

const char* vkq_last_error(void) { return g_last_error.c_str(); }

char* vkq_devices_json(const char* selector) {
  g_last_error.clear();
  try {
    return copy_string(vkq::devices_json(vkq::list_devices(selector ? selector : "")));
  } catch (const std::exception& e) {
    g_last_error = e.what();
    return nullptr;
  }
}

int vkq_selftest(const char* selector, int validation, unsigned long long seed, char** report_json) {
  g_last_error.clear();
  if (report_json) *report_json = nullptr;
  try {
    vkq::SelftestOptions o;
    o.device = selector ? selector : "";
    o.validation = validation != 0;
    o.seed = seed;
    const auto report = vkq::run_selftest(o);
    if (report_json) *report_json = copy_string(selftest_json(report));
    return report.all_passed() ? 0 : 1;
  } catch (const std::exception& e) {
    g_last_error = e.what();
    return -1;
  }
}

vkq_cancel_token* vkq_cancel_token_new(void) { return new (std::nothrow) vkq_cancel_token{}; }

void vkq_cancel(vkq_cancel_token* token) {
  if (token) token->flag.store(true);
}

void vkq_cancel_token_free(vkq_cancel_token* token) { delete token; }

int vkq_quantize(const char* options_json, vkq_progress_fn progress, void* user, vkq_cancel_token* cancel,
                 char** result_json) {
  g_last_error.clear();
  if (result_json) *result_json = nullptr;
  return run_with_status([&] {
    const vkq::QuantizeOptions o = parse_quantize_options(options_json);
    const vkq::QuantizeResult r = vkq::quantize(o, progress_callback(progress, user), cancel ? &cancel->flag : nullptr);
    if (result_json) *result_json = copy_string(quantize_result_json(r));
  });
}

int vkq_convert(const char* options_json, vkq_progress_fn progress, void* user, vkq_cancel_token* cancel) {
  g_last_error.clear();
  return run_with_status([&] {
    if (!options_json) throw vkq::Error("vkq_convert: options_json is NULL");
    const nlohmann::json j = nlohmann::json::parse(options_json, nullptr, false);
    if (j.is_discarded() || !j.is_object()) throw vkq::Error("vkq_convert options: expected a JSON object");
    vkq::ConvertOptions o;
    for (const auto& [key, value] : j.items()) {
      const bool is_string = value.is_string();
      if (key == "model_path" && is_string) o.model_path = value.get<std::string>();
      else if (key == "output_path" && is_string) o.output_path = value.get<std::string>();
      else if (key == "type" && is_string) o.type = value.get<std::string>();
      else if (key == "force" && value.is_boolean()) o.force = value.get<bool>();
      else if (key == "model_path" || key == "output_path" || key == "type" || key == "force")
        throw vkq::Error("vkq_convert options: \"" + key + "\" has the wrong type");
      else throw vkq::Error("vkq_convert options: unknown key \"" + key + "\"");
    }
    vkq::convert(o, progress_callback(progress, user), cancel ? &cancel->flag : nullptr);
  });
}

void vkq_free(void* p) { std::free(p); }

}  // extern "C"
