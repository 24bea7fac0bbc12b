// Choice between a kernel's shared-memory tiled form (GPUs) and its CPU-device form, from the
// probed device type; an environment variable (`tiled` or `cpu`) overrides it for diagnosis.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

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

// Workgroups for a register-blocked n × n accumulation (gram_registers, cross_gram_registers): spec is the
// kernel's {WG, R4, C4, …}, one invocation per (4·R4) × (4·C4) block.
inline uint32_t register_block_workgroups(uint32_t n, const std::vector<uint32_t>& spec) {
  const uint64_t blocks = uint64_t((n + 4 * spec[1] - 1) / (4 * spec[1])) * ((n + 4 * spec[2] - 1) / (4 * spec[2]));
  return uint32_t((blocks + spec[0] - 1) / spec[0]);
}

}  // namespace vkq::kernels
