// A Hugging Face checkpoint folder as downloaded: config.json, the tokenizer files, and the
// weights in model.safetensors or in shards listed by model.safetensors.index.json. Every shard
// is opened and validated up front; a tensor is found by its HF name in whichever shard holds it.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "model/safetensors.hpp"

namespace vkq::model {

// A folder is a checkpoint when it holds config.json and safetensors weights.
bool looks_like_hf_checkpoint(const std::string& folder);

// Parses a JSON file of the folder; vkq::Error naming the file when unreadable or malformed.
nlohmann::json read_json_file(const std::string& path);

class HfCheckpoint {
 public:
  // vkq::Error naming the folder or file: no config.json, no weights (or only PyTorch .bin),
  // a malformed index, a shard missing, a tensor the index places in a shard that lacks it.
  static HfCheckpoint open(const std::string& folder);

  HfCheckpoint(HfCheckpoint&&) noexcept;
  HfCheckpoint& operator=(HfCheckpoint&&) noexcept;
  ~HfCheckpoint();

  const std::string& folder() const;
  const nlohmann::json& config() const;  // config.json (text_config merged in, as llama.cpp does)
  std::string file(const std::string& name) const;  // folder/name
  bool has_file(const std::string& name) const;

  const SafetensorsTensor* find(std::string_view name) const;
  const SafetensorsTensor& tensor(std::string_view name) const;  // vkq::Error naming it when absent
  const std::string& shard_of(std::string_view name) const;      // the file holding it, for errors
  std::vector<std::string> tensor_names() const;                 // every tensor of every shard

 private:
  struct Impl;
  explicit HfCheckpoint(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace vkq::model
