#include "model/hf_checkpoint.hpp"

#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "vkquant/vkquant.hpp"

namespace vkq::model {

namespace fs = std::filesystem;

bool looks_like_hf_checkpoint(const std::string& folder) {
  return fs::is_regular_file(fs::path(folder) / "config.json") &&
         (fs::is_regular_file(fs::path(folder) / "model.safetensors") ||
          fs::is_regular_file(fs::path(folder) / "model.safetensors.index.json"));
}

nlohmann::json read_json_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open the file");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded()) throw Error(path + ": not valid JSON");
  return j;
}

struct HfCheckpoint::Impl {
  std::string folder;
  nlohmann::json config;
  std::vector<SafetensorsFile> shards;
  std::map<std::string, std::pair<size_t, const SafetensorsTensor*>, std::less<>> tensors;

  void add_shard_tensors(size_t shard) {
    for (const auto& t : shards[shard].tensors()) {
      auto [it, fresh] = tensors.emplace(t.name, std::make_pair(shard, &t));
      if (!fresh)
        throw Error(shards[shard].path() + ": tensor '" + t.name + "' is also in " + shards[it->second.first].path());
    }
  }
};

HfCheckpoint HfCheckpoint::open(const std::string& folder) {
  auto impl = std::make_unique<Impl>();
  impl->folder = folder;
  const fs::path dir(folder);
  if (!fs::is_regular_file(dir / "config.json"))
    throw Error(folder + ": no config.json, so not a Hugging Face checkpoint folder");
  impl->config = read_json_file((dir / "config.json").string());
  if (!impl->config.is_object()) throw Error((dir / "config.json").string() + ": not a JSON object");
  // Multimodal wrappers keep the language model's hyper-parameters in text_config.
  if (impl->config.contains("text_config") && impl->config["text_config"].is_object())
    for (auto& [k, v] : impl->config["text_config"].items()) impl->config[k] = v;

  const fs::path index_path = dir / "model.safetensors.index.json";
  if (fs::is_regular_file(index_path)) {
    const nlohmann::json index = read_json_file(index_path.string());
    if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object())
      throw Error(index_path.string() + ": no weight_map object");
    std::map<std::string, size_t> shard_index;
    for (auto& [name, file] : index["weight_map"].items()) {
      if (!file.is_string()) throw Error(index_path.string() + ": weight_map entry '" + name + "' is not a file name");
      const std::string shard = file.get<std::string>();
      if (shard.find('/') != std::string::npos || shard == "..")
        throw Error(index_path.string() + ": shard name '" + shard + "' is not a file of the folder");
      if (!shard_index.count(shard)) {
        const fs::path p = dir / shard;
        if (!fs::is_regular_file(p))
          throw Error(p.string() + ": shard missing (model.safetensors.index.json lists it for '" + name + "')");
        shard_index[shard] = impl->shards.size();
        impl->shards.push_back(SafetensorsFile::open(p.string()));
        impl->add_shard_tensors(impl->shards.size() - 1);
      }
      const auto* t = impl->shards[shard_index[shard]].find(name);
      if (!t) throw Error((dir / shard).string() + ": tensor '" + name + "' is listed in the index but not in the shard");
    }
    if (impl->shards.empty()) throw Error(index_path.string() + ": the weight_map lists no tensors");
  } else if (fs::is_regular_file(dir / "model.safetensors")) {
    impl->shards.push_back(SafetensorsFile::open((dir / "model.safetensors").string()));
    impl->add_shard_tensors(0);
  } else if (fs::is_regular_file(dir / "pytorch_model.bin") || fs::is_regular_file(dir / "pytorch_model.bin.index.json")) {
    throw Error(folder + ": the weights are PyTorch pickles (pytorch_model.bin), which vkquant does not read; "
                         "only safetensors (model.safetensors or shards with model.safetensors.index.json)");
  } else {
    throw Error(folder + ": no model.safetensors or model.safetensors.index.json");
  }
  return HfCheckpoint(std::move(impl));
}

HfCheckpoint::HfCheckpoint(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HfCheckpoint::HfCheckpoint(HfCheckpoint&&) noexcept = default;
HfCheckpoint& HfCheckpoint::operator=(HfCheckpoint&&) noexcept = default;
HfCheckpoint::~HfCheckpoint() = default;

const std::string& HfCheckpoint::folder() const { return impl_->folder; }
const nlohmann::json& HfCheckpoint::config() const { return impl_->config; }
std::string HfCheckpoint::file(const std::string& name) const { return (fs::path(impl_->folder) / name).string(); }
bool HfCheckpoint::has_file(const std::string& name) const { return fs::is_regular_file(file(name)); }

const SafetensorsTensor* HfCheckpoint::find(std::string_view name) const {
  auto it = impl_->tensors.find(name);
  return it == impl_->tensors.end() ? nullptr : it->second.second;
}

const SafetensorsTensor& HfCheckpoint::tensor(std::string_view name) const {
  if (const auto* t = find(name)) return *t;
  throw Error(impl_->folder + ": tensor '" + std::string(name) + "' is missing from the checkpoint");
}

const std::string& HfCheckpoint::shard_of(std::string_view name) const {
  auto it = impl_->tensors.find(name);
  if (it == impl_->tensors.end()) return impl_->folder;
  return impl_->shards[it->second.first].path();
}

std::vector<std::string> HfCheckpoint::tensor_names() const {
  std::vector<std::string> out;
  for (const auto& [name, where] : impl_->tensors) out.push_back(name);
  return out;
}

}  // namespace vkq::model
