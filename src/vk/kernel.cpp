#include "vk/kernel.hpp"

#include <cctype>
#include <cstdlib>

#include "vk/context.hpp"
#include "vk/error.hpp"
#include "vk/shader_blob.hpp"

namespace vkq::vk {

std::vector<uint32_t> apply_spec_overrides(const std::string& shader, std::vector<uint32_t> spec) {
  std::string prefix = "VKQ_SPEC_";
  for (char c : shader) prefix += char(std::toupper((unsigned char)c));
  for (size_t i = 0; i < spec.size(); ++i) {
    const std::string var = prefix + "_" + std::to_string(i);
    if (const char* v = std::getenv(var.c_str())) {
      char* end = nullptr;
      const unsigned long x = std::strtoul(v, &end, 10);
      if (!end || *end || x == 0) throw Error(var + "=" + v + ": expected a positive integer");
      spec[i] = uint32_t(x);
    }
  }
  return spec;
}

Kernel::Kernel(Context& ctx, KernelDesc desc) : desc_(std::move(desc)) {
  desc_.spec = apply_spec_overrides(desc_.shader, desc_.spec);
  std::string key = desc_.shader + "/" + std::to_string(desc_.n_buffers) + "/" + std::to_string(desc_.push_bytes) +
                    "/" + std::to_string(desc_.required_subgroup_size);
  for (uint32_t s : desc_.spec) key += "/" + std::to_string(s);
  compiled_ = ctx.compiled_pipeline(key, [&] { return compile(ctx); });
}

CompiledPipeline::~CompiledPipeline() {
  if (pipeline) vkDestroyPipeline(device, pipeline, nullptr);
  if (layout) vkDestroyPipelineLayout(device, layout, nullptr);
  if (set_layout) vkDestroyDescriptorSetLayout(device, set_layout, nullptr);
  if (module) vkDestroyShaderModule(device, module, nullptr);
}

std::shared_ptr<const CompiledPipeline> Kernel::compile(Context& ctx) const {
  const ShaderBlob& blob = find_shader(desc_.shader);
  const VkDevice dev = ctx.device();
  const std::string what = " for kernel " + desc_.shader;
  auto out = std::make_shared<CompiledPipeline>();  // destroys what was made if a step below throws
  out->device = dev;
  VkShaderModule& module_ = out->module;
  VkDescriptorSetLayout& set_layout_ = out->set_layout;
  VkPipelineLayout& layout_ = out->layout;
  VkPipeline& pipeline_ = out->pipeline;
  if (desc_.push_bytes > ctx.probe().max_push_constants)
    throw Error("kernel " + desc_.shader + ": push constants of " + std::to_string(desc_.push_bytes) +
                " bytes exceed the device limit " + std::to_string(ctx.probe().max_push_constants));
  if (desc_.required_subgroup_size &&
      !(ctx.probe().subgroup_size_control && ctx.probe().compute_full_subgroups &&
        desc_.required_subgroup_size >= ctx.probe().min_subgroup_size &&
        desc_.required_subgroup_size <= ctx.probe().max_subgroup_size))
    throw Error("kernel " + desc_.shader + " needs subgroup size " + std::to_string(desc_.required_subgroup_size) +
                ", which device " + ctx.probe().name + " cannot guarantee");

  VkShaderModuleCreateInfo smi{VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
  smi.codeSize = blob.n_words * 4;
  smi.pCode = blob.words;
  check(vkCreateShaderModule(dev, &smi, nullptr, &module_), "vkCreateShaderModule" + what);

  std::vector<VkDescriptorSetLayoutBinding> bindings(desc_.n_buffers);
  for (uint32_t i = 0; i < desc_.n_buffers; ++i) {
    bindings[i].binding = i;
    bindings[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
    bindings[i].descriptorCount = 1;
    bindings[i].stageFlags = VK_SHADER_STAGE_COMPUTE_BIT;
  }
  VkDescriptorSetLayoutCreateInfo dsl{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO};
  dsl.bindingCount = desc_.n_buffers;
  dsl.pBindings = bindings.data();
  check(vkCreateDescriptorSetLayout(dev, &dsl, nullptr, &set_layout_), "vkCreateDescriptorSetLayout" + what);

  VkPushConstantRange range{VK_SHADER_STAGE_COMPUTE_BIT, 0, desc_.push_bytes};
  VkPipelineLayoutCreateInfo pli{VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
  pli.setLayoutCount = 1;
  pli.pSetLayouts = &set_layout_;
  pli.pushConstantRangeCount = desc_.push_bytes ? 1 : 0;
  pli.pPushConstantRanges = &range;
  check(vkCreatePipelineLayout(dev, &pli, nullptr, &layout_), "vkCreatePipelineLayout" + what);

  std::vector<VkSpecializationMapEntry> entries(desc_.spec.size());
  for (uint32_t i = 0; i < desc_.spec.size(); ++i) entries[i] = {i, i * 4u, 4u};
  VkSpecializationInfo si{uint32_t(entries.size()), entries.data(), desc_.spec.size() * 4, desc_.spec.data()};

  VkPipelineShaderStageRequiredSubgroupSizeCreateInfo sg{
      VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_REQUIRED_SUBGROUP_SIZE_CREATE_INFO};
  sg.requiredSubgroupSize = desc_.required_subgroup_size;
  VkPipelineShaderStageCreateInfo stage{VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO};
  stage.pNext = desc_.required_subgroup_size ? &sg : nullptr;
  if (desc_.required_subgroup_size) stage.flags = VK_PIPELINE_SHADER_STAGE_CREATE_REQUIRE_FULL_SUBGROUPS_BIT;
  stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
  stage.module = module_;
  stage.pName = "main";
  stage.pSpecializationInfo = entries.empty() ? nullptr : &si;
  VkComputePipelineCreateInfo ci{VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO};
  ci.flags = VK_PIPELINE_CREATE_DISPATCH_BASE_BIT;  // large grids are split with vkCmdDispatchBase
  ci.stage = stage;
  ci.layout = layout_;
  check(vkCreateComputePipelines(dev, ctx.pipeline_cache(), 1, &ci, nullptr, &pipeline_),
        "vkCreateComputePipelines" + what);
  return out;
}

}  // namespace vkq::vk
