#include "io/hf_metadata.hpp"

namespace vkq::io {

void HfMetadata::set(const std::string& key, model::GgufValue value) {
  for (auto& [k, v] : entries_)
    if (k == key) {
      v = std::move(value);
      return;
    }
  entries_.emplace_back(key, std::move(value));
}

bool HfMetadata::has(const std::string& key) const {
  for (const auto& [k, v] : entries_)
    if (k == key) return true;
  return false;
}

}  // namespace vkq::io
