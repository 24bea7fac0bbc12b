// vkq::version(): defined at the bottom of the module graph so every layer can record it.
#include "vkquant/vkquant.hpp"

namespace vkq {

const char* version() { return VKQ_VERSION; }

}  // namespace vkq
