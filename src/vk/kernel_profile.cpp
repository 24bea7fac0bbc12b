#include "vk/kernel_profile.hpp"

#include <algorithm>

namespace vkq::vk {

void KernelProfile::add(const std::string& kernel, double ms) {
  std::lock_guard<std::mutex> lock(mutex_);
  KernelTiming& t = by_kernel_[kernel];
  t.kernel = kernel;
  ++t.dispatches;
  t.device_ms += ms;
}

std::vector<KernelTiming> KernelProfile::rows() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<KernelTiming> out;
  for (const auto& [name, t] : by_kernel_) out.push_back(t);
  std::stable_sort(out.begin(), out.end(),
                   [](const KernelTiming& a, const KernelTiming& b) { return a.device_ms > b.device_ms; });
  return out;
}

}  // namespace vkq::vk
