#include "calibrate/kernel_times.hpp"

namespace vkq::calibrate {

std::vector<KernelTime> kernel_times(const vk::KernelProfile* profile) {
  std::vector<KernelTime> out;
  if (!profile) return out;
  for (const auto& row : profile->rows()) out.push_back({row.kernel, row.dispatches, row.device_ms * 1e-3});
  return out;
}

}  // namespace vkq::calibrate
