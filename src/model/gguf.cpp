// GgufFile: owns the mapped (or in-memory) bytes and the validated layout, answers metadata and
// tensor queries, and decodes tensors to fp32 on request.
#include "model/gguf.hpp"

#include <limits>
#include <utility>

#include "model/gguf_parse.hpp"
#include "model/mapped_file.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::model {

uint64_t GgufTensorInfo::n_elements() const {
  uint64_t n = 1;
  for (uint64_t d : dims) n *= d;
  return n;
}

uint64_t GgufTensorInfo::n_rows() const {
  uint64_t n = 1;
  for (size_t i = 1; i < dims.size(); ++i) n *= dims[i];
  return n;
}

uint64_t GgufTensorInfo::n_bytes() const { return ggml_row_size(type, row_length()) * n_rows(); }

struct GgufFile::Impl {
  std::string path;
  MappedFile mapping;          // the file, when opened from disk
  std::vector<uint8_t> owned;  // the bytes, when built from memory
  const uint8_t* bytes = nullptr;
  uint64_t size = 0;
  GgufLayout layout;
  // Views into layout's strings, which never move once parsing is done.
  std::map<std::string_view, size_t> key_index;
  std::map<std::string_view, size_t> tensor_index;
  // An assembled file: each tensor's bytes (same order as layout.tensors) and what owns them.
  std::vector<const uint8_t*> tensor_bytes;
  std::shared_ptr<const void> keep_alive;

  void parse() {
    layout = parse_gguf(bytes, size, path);
    for (size_t i = 0; i < layout.metadata.size(); ++i) key_index.emplace(layout.metadata[i].first, i);
    for (size_t i = 0; i < layout.tensors.size(); ++i) tensor_index.emplace(layout.tensors[i].name, i);
  }

  [[noreturn]] void fail(const std::string& problem) const { throw Error(path + ": " + problem); }
};

GgufFile GgufFile::open(const std::string& path) {
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->mapping = MappedFile::open(path);
  impl->bytes = impl->mapping.data();
  impl->size = impl->mapping.size();
  impl->parse();
  return GgufFile(std::move(impl));
}

GgufFile GgufFile::from_memory(std::vector<uint8_t> bytes, const std::string& name) {
  auto impl = std::make_unique<Impl>();
  impl->path = name;
  impl->owned = std::move(bytes);
  impl->bytes = impl->owned.data();
  impl->size = impl->owned.size();
  impl->parse();
  return GgufFile(std::move(impl));
}

GgufFile GgufFile::assemble(std::string name, std::vector<std::pair<std::string, GgufValue>> metadata,
                            std::vector<AssembledTensor> tensors, std::shared_ptr<const void> keep_alive) {
  auto impl = std::make_unique<Impl>();
  impl->path = std::move(name);
  impl->keep_alive = std::move(keep_alive);
  impl->layout.version = 3;
  impl->layout.metadata = std::move(metadata);
  for (auto& t : tensors) {
    impl->layout.tensors.push_back(std::move(t.info));
    impl->tensor_bytes.push_back(t.data);
  }
  for (size_t i = 0; i < impl->layout.metadata.size(); ++i) {
    if (!impl->key_index.emplace(impl->layout.metadata[i].first, i).second)
      impl->fail("metadata key '" + impl->layout.metadata[i].first + "' appears twice");
  }
  for (size_t i = 0; i < impl->layout.tensors.size(); ++i) {
    if (!impl->tensor_index.emplace(impl->layout.tensors[i].name, i).second)
      impl->fail("tensor '" + impl->layout.tensors[i].name + "' appears twice");
  }
  return GgufFile(std::move(impl));
}

GgufFile::GgufFile(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
GgufFile::GgufFile(GgufFile&&) noexcept = default;
GgufFile& GgufFile::operator=(GgufFile&&) noexcept = default;
GgufFile::~GgufFile() = default;

const std::string& GgufFile::path() const { return impl_->path; }
uint32_t GgufFile::version() const { return impl_->layout.version; }
uint64_t GgufFile::alignment() const { return impl_->layout.alignment; }
uint64_t GgufFile::data_offset() const { return impl_->layout.data_offset; }
uint64_t GgufFile::file_size() const { return impl_->size; }

const std::vector<std::pair<std::string, GgufValue>>& GgufFile::metadata() const { return impl_->layout.metadata; }

const GgufValue* GgufFile::find(std::string_view key) const {
  auto it = impl_->key_index.find(key);
  return it == impl_->key_index.end() ? nullptr : &impl_->layout.metadata[it->second].second;
}

const GgufValue& GgufFile::get(std::string_view key) const {
  if (const GgufValue* v = find(key)) return *v;
  impl_->fail("metadata key '" + std::string(key) + "' is missing");
}

namespace {

// Runs a typed accessor and prefixes its error with the file, which GgufValue does not know.
template <typename F>
auto with_file(const std::string& path, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const Error& e) {
    throw Error(path + ": " + e.what());
  }
}

}  // namespace

std::string GgufFile::get_string(std::string_view key) const {
  const GgufValue& v = get(key);
  return with_file(path(), [&] { return v.as_string(key); });
}

uint64_t GgufFile::get_u64(std::string_view key) const {
  const GgufValue& v = get(key);
  return with_file(path(), [&] { return v.as_u64(key); });
}

double GgufFile::get_f64(std::string_view key) const {
  const GgufValue& v = get(key);
  return with_file(path(), [&] { return v.as_f64(key); });
}

std::vector<std::string> GgufFile::get_string_array(std::string_view key) const {
  const GgufValue& v = get(key);
  return with_file(path(), [&] {
    std::vector<std::string> out;
    const auto& items = v.as_array(key);
    out.reserve(items.size());
    for (const auto& item : items) out.push_back(item.as_string(key));
    return out;
  });
}

std::vector<double> GgufFile::get_f64_array(std::string_view key) const {
  const GgufValue& v = get(key);
  return with_file(path(), [&] {
    std::vector<double> out;
    const auto& items = v.as_array(key);
    out.reserve(items.size());
    for (const auto& item : items) out.push_back(item.as_f64(key));
    return out;
  });
}

std::vector<int64_t> GgufFile::get_i64_array(std::string_view key) const {
  const GgufValue& v = get(key);
  return with_file(path(), [&] {
    std::vector<int64_t> out;
    const auto& items = v.as_array(key);
    out.reserve(items.size());
    for (const auto& item : items) out.push_back(item.as_i64(key));
    return out;
  });
}

const std::vector<GgufTensorInfo>& GgufFile::tensors() const { return impl_->layout.tensors; }

const GgufTensorInfo* GgufFile::find_tensor(std::string_view name) const {
  auto it = impl_->tensor_index.find(name);
  return it == impl_->tensor_index.end() ? nullptr : &impl_->layout.tensors[it->second];
}

const GgufTensorInfo& GgufFile::tensor(std::string_view name) const {
  if (const GgufTensorInfo* t = find_tensor(name)) return *t;
  impl_->fail("tensor '" + std::string(name) + "' is missing");
}

const uint8_t* GgufFile::tensor_data(const GgufTensorInfo& t) const {
  if (!impl_->tensor_bytes.empty()) {
    auto it = impl_->tensor_index.find(t.name);
    if (it == impl_->tensor_index.end() || &impl_->layout.tensors[it->second] != &t)
      impl_->fail("tensor '" + t.name + "' does not belong to this model");
    return impl_->tensor_bytes[it->second];
  }
  // The extents were validated at open; this re-check guards against an info from another file.
  const uint64_t start = impl_->layout.data_offset;
  const uint64_t data_size = impl_->size > start ? impl_->size - start : 0;
  const uint64_t n = t.n_bytes();
  if (t.offset > data_size || n > data_size - t.offset)
    impl_->fail("tensor '" + t.name + "' data lies outside the file (does the tensor info belong to it?)");
  return impl_->bytes + start + t.offset;
}

std::vector<float> GgufFile::read_f32(const GgufTensorInfo& t) const {
  with_file(path(), [&] { require_readable(t.type, t.name); });
  const uint8_t* src = tensor_data(t);
  const uint64_t n = t.n_elements();
  if (n > std::numeric_limits<size_t>::max() / sizeof(float))
    impl_->fail("tensor '" + t.name + "' has too many elements to decode in memory");
  std::vector<float> out(n);
  dequantize_row(t.type, src, out.data(), n);
  return out;
}

}  // namespace vkq::model
