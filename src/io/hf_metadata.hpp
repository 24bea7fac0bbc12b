// Metadata of a GGUF being put together from a Hugging Face checkpoint, in the order added.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "model/gguf.hpp"

namespace vkq::io {

class HfMetadata {
 public:
  // Adds a key, or replaces its value where it already is (llama.cpp's writer keeps the last one).
  void set(const std::string& key, model::GgufValue value);
  bool has(const std::string& key) const;
  std::vector<std::pair<std::string, model::GgufValue>> take() { return std::move(entries_); }
  const std::vector<std::pair<std::string, model::GgufValue>>& entries() const { return entries_; }

 private:
  std::vector<std::pair<std::string, model::GgufValue>> entries_;
};

}  // namespace vkq::io
