#include "vk/shader_blob.hpp"

#include <string>

#include "vkquant/vkquant.hpp"

namespace vkq::vk {

const ShaderBlob& find_shader(std::string_view name) {
  for (const ShaderBlob* const* b = kShaderBlobs; *b; ++b)
    if (name == (*b)->name) return **b;
  throw Error("no embedded shader named '" + std::string(name) + "' (is shaders/" + std::string(name) +
              ".comp missing from the build?)");
}

}  // namespace vkq::vk
