// SPIR-V embedded at build time (cmake/VkqShaders.cmake): looked up by the .comp file's name.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace vkq::vk {

struct ShaderBlob {
  const char* name;
  const uint32_t* words;
  size_t n_words;
};

// nullptr-terminated table generated from shaders/*.comp.
extern const ShaderBlob* const kShaderBlobs[];

// Throws vkq::Error when no shader of that name was embedded.
const ShaderBlob& find_shader(std::string_view name);

}  // namespace vkq::vk
