#include "vk/pipeline_cache.hpp"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

#include "vk/error.hpp"

namespace vkq::vk {

std::string user_cache_dir() {
  if (const char* d = std::getenv("VKQ_CACHE_DIR")) return d;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return std::string(x) + "/vkquant";
  if (const char* h = std::getenv("HOME"); h && *h) return std::string(h) + "/.cache/vkquant";
  return "";
}

namespace {

std::string uuid_hex(const uint8_t* uuid) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (unsigned i = 0; i < VK_UUID_SIZE; ++i) {
    s += digits[uuid[i] >> 4];
    s += digits[uuid[i] & 15];
  }
  return s;
}

}  // namespace

PipelineCache::PipelineCache(VkDevice device, const DeviceProbe& probe, bool persist) : device_(device) {
  std::vector<char> initial;
  const std::string dir = persist ? user_cache_dir() : "";
  if (!dir.empty()) {
    file_ = dir + "/pipelines-" + uuid_hex(probe.pipeline_cache_uuid) + ".bin";
    std::ifstream in(file_, std::ios::binary);
    if (in) initial.assign(std::istreambuf_iterator<char>(in), {});
  }
  VkPipelineCacheCreateInfo info{VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO};
  info.initialDataSize = initial.size();
  info.pInitialData = initial.empty() ? nullptr : initial.data();
  // The driver validates the header (vendor, device, UUID) and ignores mismatching data.
  if (vkCreatePipelineCache(device_, &info, nullptr, &cache_) != VK_SUCCESS) {
    info.initialDataSize = 0;
    info.pInitialData = nullptr;
    check(vkCreatePipelineCache(device_, &info, nullptr, &cache_), "vkCreatePipelineCache");
  }
}

PipelineCache::~PipelineCache() {
  if (!cache_) return;
  if (!file_.empty()) {
    size_t size = 0;
    if (vkGetPipelineCacheData(device_, cache_, &size, nullptr) == VK_SUCCESS && size) {
      std::vector<char> data(size);
      if (vkGetPipelineCacheData(device_, cache_, &size, data.data()) == VK_SUCCESS) {
        std::error_code ec;
        std::filesystem::create_directories(std::filesystem::path(file_).parent_path(), ec);
        // Write-then-rename so a concurrent run never reads half a cache.
        const std::string tmp = file_ + ".tmp" + std::to_string(reinterpret_cast<uintptr_t>(this));
        {
          std::ofstream out(tmp, std::ios::binary);
          out.write(data.data(), std::streamsize(size));
        }
        std::filesystem::rename(tmp, file_, ec);
        if (ec) std::filesystem::remove(tmp, ec);
      }
    }
  }
  vkDestroyPipelineCache(device_, cache_, nullptr);
}

}  // namespace vkq::vk
