// Choice between a kernel's shared-memory tiled form (GPUs) and its CPU-device form, from the
// probed device type; an environment variable (`tiled` or `cpu`) overrides it for diagnosis.
#pragma once

#include <cstdlib>
#include <string>

#include "vk/device_probe.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::kernels {

inline bool choose_cpu_variant(const vk::DeviceProbe& p, const char* env_var) {
  if (const char* v = std::getenv(env_var)) {
    const std::string s = v;
    if (s == "cpu") return true;
    if (s == "tiled") return false;
    throw Error(std::string(env_var) + "=" + s + ": expected 'tiled' or 'cpu'");
  }
  // On a CPU device, shared memory is ordinary cache and barriers are coroutine switches.
  return p.kind == vk::DeviceKind::Cpu;
}

}  // namespace vkq::kernels
