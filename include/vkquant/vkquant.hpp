// vkquant public C++ API. Everything a program embedding vkquant needs is declared here;
// nothing under src/ is public. Errors are reported as vkq::Error exceptions.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#if defined(_WIN32)
#define VKQ_API __declspec(dllexport)
#else
#define VKQ_API __attribute__((visibility("default")))
#endif

namespace vkq {

// Every failure vkquant reports: the message names the operation and the file/tensor/option.
class VKQ_API Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

VKQ_API const char* version();

// One Vulkan physical device and what the probe found on it.
struct DeviceSummary {
  uint32_t index = 0;
  std::string name;
  std::string type;  // "discrete", "integrated", "virtual", "cpu", "other"
  std::string driver;
  std::string api_version;
  uint32_t subgroup_size = 0, min_subgroup_size = 0, max_subgroup_size = 0;
  bool subgroup_size_control = false, compute_full_subgroups = false;
  uint32_t max_shared_memory = 0;
  bool fp16 = false, int8 = false, fp64 = false, cooperative_matrix = false;
  uint64_t device_local_bytes = 0;
  uint64_t budget_bytes = 0;  // 0 when VK_EXT_memory_budget is absent
  uint32_t max_workgroup_count[3] = {0, 0, 0};
  bool chosen = false;        // the device a run would use by default / with the given selector
};

// Lists devices; `selector` (index or name substring, "" = default, VKQ_DEVICE honoured)
// marks the chosen one.
VKQ_API std::vector<DeviceSummary> list_devices(const std::string& selector = "");
VKQ_API std::string devices_json(const std::vector<DeviceSummary>& devices);

// One row of `vkquant selftest`: a kernel compared against its float64 reference.
struct SelftestRow {
  std::string kernel;
  std::string shape;
  double max_error = 0;   // the measured error, in the metric named by `metric`
  double tolerance = 0;
  std::string metric;
  double millis = 0;      // GPU time of the dispatches (timestamps), for information only
  bool passed = false;
  std::string message;    // why it failed, when it did
};

struct SelftestOptions {
  std::string device;     // selector, as for list_devices
  bool validation = false;  // enable the Khronos validation layer if installed
  uint64_t seed = 0;        // 0 = fresh random seed (printed in the results)
};

struct SelftestReport {
  std::string device;
  uint64_t seed = 0;
  std::vector<SelftestRow> rows;
  uint64_t validation_messages = 0;
  bool all_passed() const {
    if (validation_messages) return false;
    for (const auto& r : rows)
      if (!r.passed) return false;
    return !rows.empty();
  }
};

VKQ_API SelftestReport run_selftest(const SelftestOptions& options);

// Progress of a long run, reported to the caller's callback (from the calling thread).
struct ProgressEvent {
  std::string stage;       // "load", "tokenize", "calibrate", "quantize", "write", "evaluate", "done"
  std::string item;        // what is being worked on, e.g. "blk.3.attn_q.weight" or "window 12/40"
  uint32_t step = 0, steps = 0;  // position within the stage (e.g. block 3 of 30)
  double fraction = 0;     // of the whole run, 0..1
  double elapsed_seconds = 0;
  double eta_seconds = -1; // remaining, estimated from the work done so far; -1 while unknown
  std::string message;     // a notice worth showing (fallbacks, damping retries, skipped tensors)
};
using ProgressCallback = std::function<void(const ProgressEvent&)>;

// Set to true from any thread to stop a run; it ends with vkq::Cancelled and writes nothing.
using CancelFlag = std::atomic<bool>;

class VKQ_API Cancelled : public Error {
 public:
  Cancelled() : Error("cancelled: no output was written") {}
};

}  // namespace vkq
