// The C ABI (vkquant.h) over the C++ API: exceptions become status codes + vkq_last_error().
#include "vkquant/vkquant.h"

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <cstring>
#include <string>

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

}  // namespace

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

void vkq_free(void* p) { std::free(p); }

}  // extern "C"
