// A compute pipeline from embedded SPIR-V: storage-buffer bindings 0..n-1, one typed push
// constant block, and specialization constants (ids 0..k-1) for tile and workgroup sizes.
#pragma once

#include <vulkan/vulkan.h>

#include <cstdint>
#include <string>
#include <vector>

namespace vkq::vk {

class Context;

struct KernelDesc {
  std::string shader;                 // shaders/<shader>.comp
  uint32_t n_buffers = 0;             // storage buffers at bindings 0..n_buffers-1
  uint32_t push_bytes = 0;            // sizeof the push-constant struct
  std::vector<uint32_t> spec;         // specialization constants, constant_id = index
  uint32_t required_subgroup_size = 0;  // 0: any; else needs subgroup size control + full subgroups
};

class Kernel {
 public:
  Kernel(Context& ctx, KernelDesc desc);
  ~Kernel();
  Kernel(const Kernel&) = delete;
  Kernel& operator=(const Kernel&) = delete;

  VkPipeline pipeline() const { return pipeline_; }
  VkPipelineLayout layout() const { return layout_; }
  VkDescriptorSetLayout set_layout() const { return set_layout_; }
  const KernelDesc& desc() const { return desc_; }

 private:
  void create();
  void release();
  Context& ctx_;
  KernelDesc desc_;
  VkShaderModule module_ = VK_NULL_HANDLE;
  VkDescriptorSetLayout set_layout_ = VK_NULL_HANDLE;
  VkPipelineLayout layout_ = VK_NULL_HANDLE;
  VkPipeline pipeline_ = VK_NULL_HANDLE;
};

// Environment override for diagnosing drivers: VKQ_SPEC_<SHADER>_<ID>=value replaces a
// specialization constant (e.g. VKQ_SPEC_GEMM_0=8). Returns the possibly-overridden list.
std::vector<uint32_t> apply_spec_overrides(const std::string& shader, std::vector<uint32_t> spec);

}  // namespace vkq::vk
