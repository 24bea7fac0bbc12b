// Device time per kernel over a run (`--profile`): the Stream writes a GPU timestamp before and after
// every dispatch and transfer, and adds the interval here when the submission completes.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace vkq::vk {

struct KernelTiming {
  std::string kernel;  // shaders/<kernel>.comp, or "copy" / "fill" for transfers
  uint64_t dispatches = 0;
  double device_ms = 0;
};

class KernelProfile {
 public:
  void add(const std::string& kernel, double ms);
  // Every kernel seen, the most device time first.
  std::vector<KernelTiming> rows() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, KernelTiming> by_kernel_;
};

}  // namespace vkq::vk
