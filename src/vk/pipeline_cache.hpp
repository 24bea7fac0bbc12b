// VkPipelineCache persisted in the user's cache directory, keyed by pipelineCacheUUID, so a
// second run skips shader compilation (DESIGN.md). A stale or corrupt file is ignored.
#pragma once

#include <vulkan/vulkan.h>

#include <string>

#include "vk/device_probe.hpp"

namespace vkq::vk {

class PipelineCache {
 public:
  PipelineCache(VkDevice device, const DeviceProbe& probe, bool persist);
  ~PipelineCache();  // writes the cache back when persisting
  PipelineCache(const PipelineCache&) = delete;
  PipelineCache& operator=(const PipelineCache&) = delete;

  VkPipelineCache handle() const { return cache_; }
  const std::string& file() const { return file_; }

 private:
  VkDevice device_;
  VkPipelineCache cache_ = VK_NULL_HANDLE;
  std::string file_;  // empty when not persisting
};

// $VKQ_CACHE_DIR, else $XDG_CACHE_HOME/vkquant, else $HOME/.cache/vkquant; "" if none.
std::string user_cache_dir();

}  // namespace vkq::vk
