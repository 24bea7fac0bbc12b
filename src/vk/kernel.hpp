// A compute pipeline from embedded SPIR-V: storage-buffer bindings 0..n-1, one typed push
// constant block, and specialization constants (ids 0..k-1) for tile and workgroup sizes.
#pragma once

#include <vulkan/vulkan.h>

#include <cstdint>
#include <memory>
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

// The Vulkan objects of one compiled pipeline. The context keeps one per distinct KernelDesc, shared by every
// Kernel made from it: compiling is the expensive part (~26 ms a pipeline on lavapipe), and a run makes the
// same kernels again for every block and stage.
struct CompiledPipeline {
  VkDevice device = VK_NULL_HANDLE;
  VkShaderModule module = VK_NULL_HANDLE;
  VkDescriptorSetLayout set_layout = VK_NULL_HANDLE;
  VkPipelineLayout layout = VK_NULL_HANDLE;
  VkPipeline pipeline = VK_NULL_HANDLE;
  CompiledPipeline() = default;
  CompiledPipeline(const CompiledPipeline&) = delete;
  CompiledPipeline& operator=(const CompiledPipeline&) = delete;
  ~CompiledPipeline();
};

class Kernel {
 public:
  Kernel(Context& ctx, KernelDesc desc);
  Kernel(const Kernel&) = delete;
  Kernel& operator=(const Kernel&) = delete;

  VkPipeline pipeline() const { return compiled_->pipeline; }
  VkPipelineLayout layout() const { return compiled_->layout; }
  VkDescriptorSetLayout set_layout() const { return compiled_->set_layout; }
  const KernelDesc& desc() const { return desc_; }

 private:
  std::shared_ptr<const CompiledPipeline> compile(Context& ctx) const;
  KernelDesc desc_;
  std::shared_ptr<const CompiledPipeline> compiled_;
};

// Environment override for diagnosing drivers: VKQ_SPEC_<SHADER>_<ID>=value replaces a
// specialization constant (e.g. VKQ_SPEC_GEMM_0=8). Returns the possibly-overridden list.
std::vector<uint32_t> apply_spec_overrides(const std::string& shader, std::vector<uint32_t> spec);

}  // namespace vkq::vk
