// How a kernel that reduces along rows (attention, rms_norm) maps its rows to the device.
// WorkgroupPerRow: the lanes of a workgroup split a row and merge through shared memory — right for GPUs
// and long rows. LanePerRow: an invocation owns whole rows, no barriers — right for CPU devices
// (lavapipe), where barriers and shared-memory merges cost more than the row's arithmetic
// (docs/performance.md has the measurements).
#pragma once

#include "vk/device_probe.hpp"

namespace vkq::kernels {

enum class RowForm { Auto, WorkgroupPerRow, LanePerRow };

// Auto resolves to LanePerRow on a CPU device, else to WorkgroupPerRow.
inline bool lane_per_row(RowForm form, const vk::DeviceProbe& device) {
  if (form != RowForm::Auto) return form == RowForm::LanePerRow;
  return device.kind == vk::DeviceKind::Cpu;
}

}  // namespace vkq::kernels
