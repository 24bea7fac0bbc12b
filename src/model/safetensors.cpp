#include "model/safetensors.hpp"

#include <algorithm>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <utility>

#include "model/mapped_file.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::model {

namespace {

constexpr uint64_t kMaxHeaderBytes = uint64_t(100) << 20;  // the format's own limit
constexpr size_t kMaxDims = 8;

// Bytes per element of every dtype the format defines; 0 for an unknown name.
uint64_t dtype_size(const std::string& dtype) {
  static const std::map<std::string, uint64_t, std::less<>> sizes = {
      {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E4M3", 1}, {"F8_E5M2", 1}, {"I16", 2}, {"U16", 2}, {"F16", 2},
      {"BF16", 2}, {"I32", 4}, {"U32", 4}, {"F32", 4},     {"F64", 8},     {"I64", 8}, {"U64", 8}};
  auto it = sizes.find(dtype);
  return it == sizes.end() ? 0 : it->second;
}

}  // namespace

uint64_t SafetensorsTensor::n_elements() const {
  uint64_t n = 1;
  for (uint64_t d : shape) n *= d;
  return n;
}

GgmlType safetensors_float_type(const SafetensorsTensor& t, const std::string& file) {
  if (t.dtype == "F32") return GgmlType::F32;
  if (t.dtype == "F16") return GgmlType::F16;
  if (t.dtype == "BF16") return GgmlType::BF16;
  throw Error(file + ": tensor '" + t.name + "' has dtype " + t.dtype +
              ", which vkquant cannot read as weights (F32, F16 or BF16)");
}

struct SafetensorsFile::Impl {
  std::string path;
  MappedFile mapping;
  std::vector<uint8_t> owned;
  const uint8_t* bytes = nullptr;
  uint64_t size = 0;
  std::vector<SafetensorsTensor> tensors;
  std::map<std::string, size_t, std::less<>> index;
  std::map<std::string, std::string> metadata;

  [[noreturn]] void fail(const std::string& problem) const { throw Error(path + ": " + problem); }

  void parse() {
    if (size < 8) fail("not a safetensors file (" + std::to_string(size) + " bytes, shorter than its header length)");
    uint64_t header_len = 0;
    std::memcpy(&header_len, bytes, 8);
    if (header_len < 2 || header_len > kMaxHeaderBytes || header_len > size - 8)
      fail("safetensors header length " + std::to_string(header_len) + " does not fit the file of " +
           std::to_string(size) + " bytes (truncated or not a safetensors file)");
    const char* header = reinterpret_cast<const char*>(bytes + 8);
    nlohmann::json j = nlohmann::json::parse(header, header + header_len, nullptr, false);
    if (j.is_discarded() || !j.is_object()) fail("the safetensors header is not a JSON object");
    const uint64_t data_start = 8 + header_len;
    const uint64_t data_size = size - data_start;
    for (auto& [name, entry] : j.items()) {
      if (name == "__metadata__") {
        if (!entry.is_object()) fail("__metadata__ is not an object of strings");
        for (auto& [k, v] : entry.items()) {
          if (!v.is_string()) fail("__metadata__ value '" + k + "' is not a string");
          metadata[k] = v.get<std::string>();
        }
        continue;
      }
      tensors.push_back(parse_tensor(name, entry, data_start, data_size));
    }
    check_layout(data_size);
    for (size_t i = 0; i < tensors.size(); ++i) index.emplace(tensors[i].name, i);
  }

  SafetensorsTensor parse_tensor(const std::string& name, const nlohmann::json& e, uint64_t data_start,
                                 uint64_t data_size) const {
    const std::string what = "tensor '" + name + "': ";
    if (!e.is_object() || !e.contains("dtype") || !e.contains("shape") || !e.contains("data_offsets"))
      fail(what + "header entry needs dtype, shape and data_offsets");
    const auto& dtype = e["dtype"];
    const auto& shape = e["shape"];
    const auto& offsets = e["data_offsets"];
    if (!dtype.is_string()) fail(what + "dtype is not a string");
    if (!shape.is_array() || shape.size() > kMaxDims) fail(what + "shape is not an array of at most 8 sizes");
    if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
        !offsets[1].is_number_unsigned())
      fail(what + "data_offsets is not a pair of non-negative integers");
    SafetensorsTensor t;
    t.name = name;
    t.dtype = dtype.get<std::string>();
    const uint64_t elem = dtype_size(t.dtype);
    if (elem == 0) fail(what + "unknown dtype '" + t.dtype + "'");
    uint64_t n = 1;
    for (const auto& d : shape) {
      if (!d.is_number_unsigned()) fail(what + "a dimension is not a non-negative integer");
      const uint64_t v = d.get<uint64_t>();
      if (v != 0 && n > std::numeric_limits<uint64_t>::max() / elem / v) fail(what + "shape is absurdly large");
      n *= v;
      t.shape.push_back(v);
    }
    const uint64_t begin = offsets[0].get<uint64_t>(), end = offsets[1].get<uint64_t>();
    if (begin > end || end > data_size)
      fail(what + "data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
           ") lie outside the data section of " + std::to_string(data_size) + " bytes (truncated file?)");
    if (end - begin != n * elem)
      fail(what + "data_offsets span " + std::to_string(end - begin) + " bytes but " + t.dtype + " of this shape needs " +
           std::to_string(n * elem));
    t.n_bytes = end - begin;
    t.data = bytes + data_start + begin;
    return t;
  }

  // The format's rule: the tensors tile the data section exactly — no overlap, no hole, nothing after.
  void check_layout(uint64_t data_size) const {
    std::vector<const SafetensorsTensor*> by_start;
    for (const auto& t : tensors)
      if (t.n_bytes > 0) by_start.push_back(&t);
    std::sort(by_start.begin(), by_start.end(), [](auto* a, auto* b) { return a->data < b->data; });
    const uint8_t* data_start = bytes + (size - data_size);
    const uint8_t* expected = data_start;
    for (size_t i = 0; i < by_start.size(); ++i) {
      if (i > 0 && by_start[i]->data < by_start[i - 1]->data + by_start[i - 1]->n_bytes)
        fail("tensors '" + by_start[i - 1]->name + "' and '" + by_start[i]->name + "' overlap in the file");
      if (by_start[i]->data != expected)
        fail("bytes " + std::to_string(expected - data_start) + " to " + std::to_string(by_start[i]->data - data_start) +
             " of the data section belong to no tensor (before '" + by_start[i]->name + "')");
      expected = by_start[i]->data + by_start[i]->n_bytes;
    }
    if (expected != data_start + data_size)
      fail(std::to_string(data_start + data_size - expected) +
           " bytes after the last tensor belong to no tensor (a damaged or padded file)");
  }
};

SafetensorsFile SafetensorsFile::open(const std::string& path) {
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->mapping = MappedFile::open(path);
  impl->bytes = impl->mapping.data();
  impl->size = impl->mapping.size();
  impl->parse();
  return SafetensorsFile(std::move(impl));
}

SafetensorsFile SafetensorsFile::from_memory(std::vector<uint8_t> bytes, const std::string& name) {
  auto impl = std::make_unique<Impl>();
  impl->path = name;
  impl->owned = std::move(bytes);
  impl->bytes = impl->owned.data();
  impl->size = impl->owned.size();
  impl->parse();
  return SafetensorsFile(std::move(impl));
}

SafetensorsFile::SafetensorsFile(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SafetensorsFile::SafetensorsFile(SafetensorsFile&&) noexcept = default;
SafetensorsFile& SafetensorsFile::operator=(SafetensorsFile&&) noexcept = default;
SafetensorsFile::~SafetensorsFile() = default;

const std::string& SafetensorsFile::path() const { return impl_->path; }
const std::vector<SafetensorsTensor>& SafetensorsFile::tensors() const { return impl_->tensors; }
const std::map<std::string, std::string>& SafetensorsFile::metadata() const { return impl_->metadata; }

const SafetensorsTensor* SafetensorsFile::find(std::string_view name) const {
  auto it = impl_->index.find(name);
  return it == impl_->index.end() ? nullptr : &impl_->tensors[it->second];
}

}  // namespace vkq::model
