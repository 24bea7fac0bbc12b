// The device's per-kernel profile (vk::KernelProfile) as the public KernelTime rows.
#pragma once

#include <vector>

#include "vk/kernel_profile.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::calibrate {

// Empty when `profile` is null (not asked for, or the queue has no timestamps).
std::vector<KernelTime> kernel_times(const vk::KernelProfile* profile);

}  // namespace vkq::calibrate
