// GGUF header parsing (ggml docs/gguf.md): header, metadata key-values, tensor infos. Versions 2
// and 3 share one little-endian layout (v3 only allowed big-endian files, which we reject).
// Counts and lengths are checked against the bytes that remain before anything is allocated.
#include "model/gguf_parse.hpp"

#include <algorithm>
#include <cstdio>
#include <limits>
#include <string_view>
#include <unordered_map>

#include "model/byte_reader.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::model {
namespace {

constexpr uint64_t kMinKvBytes = 8 + 4 + 1;          // empty-key length, value type, 1-byte value
constexpr uint64_t kMinTensorInfoBytes = 8 + 1 + 4 + 4 + 8;  // name length, 1-byte name, n_dims, type, offset
constexpr uint64_t kMaxKeyLength = 65535;             // the spec bounds keys to 2^16 - 1 bytes

[[noreturn]] void fail_file(const std::string& file, const std::string& problem) {
  throw Error(file + ": " + problem);
}

bool is_value_type(uint32_t t) { return t <= uint32_t(GgufValueType::FLOAT64); }

// Smallest encoding of one value of type t: used to bound element counts by the bytes left.
uint64_t min_encoded_size(GgufValueType t) {
  switch (t) {
    case GgufValueType::UINT8: case GgufValueType::INT8: case GgufValueType::BOOL: return 1;
    case GgufValueType::UINT16: case GgufValueType::INT16: return 2;
    case GgufValueType::UINT32: case GgufValueType::INT32: case GgufValueType::FLOAT32: return 4;
    case GgufValueType::UINT64: case GgufValueType::INT64: case GgufValueType::FLOAT64: return 8;
    case GgufValueType::STRING: return 8;
    case GgufValueType::ARRAY: return 4 + 8;
  }
  return 1;
}

std::string magic_text(const uint8_t* p) {
  std::string hex, text;
  char buf[4];
  for (int i = 0; i < 4; ++i) {
    std::snprintf(buf, sizeof buf, "%02x", p[i]);
    hex += std::string(i ? " " : "") + buf;
    text += (p[i] >= 32 && p[i] < 127) ? char(p[i]) : '.';
  }
  return hex + " ('" + text + "')";
}

class GgufParser {
 public:
  GgufParser(const uint8_t* data, uint64_t size, const std::string& file) : r_(data, size, file), file_(file) {}

  GgufLayout parse() {
    read_header();
    read_metadata();
    resolve_alignment();
    read_tensor_infos();
    layout_.data_offset = align_up(r_.offset(), layout_.alignment);
    check_tensor_extents();
    return std::move(layout_);
  }

 private:
  static uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

  void read_header() {
    const uint8_t* magic = r_.read_bytes(4, "the GGUF magic");
    if (std::string_view(reinterpret_cast<const char*>(magic), 4) != "GGUF")
      fail_file(file_, "not a GGUF file: the magic bytes are " + magic_text(magic) + ", expected 'GGUF'");
    const uint32_t version = r_.read<uint32_t>("the GGUF version");
    if (version == 1) fail_file(file_, "GGUF version 1 is not supported (vkquant reads versions 2 and 3)");
    if (version != 0 && (version & 0xFFFFu) == 0)
      fail_file(file_, "GGUF version field " + std::to_string(version) +
                           " looks byte-swapped: big-endian GGUF files are not supported");
    if (version != 2 && version != 3)
      fail_file(file_, "unsupported GGUF version " + std::to_string(version) + " (vkquant reads versions 2 and 3)");
    layout_.version = version;
    n_tensors_ = r_.read<uint64_t>("the tensor count");
    n_kv_ = r_.read<uint64_t>("the metadata key-value count");
    const uint64_t left = r_.remaining();
    if (n_kv_ > left / kMinKvBytes)
      fail_file(file_, "truncated or corrupt: absurd metadata key-value count " + std::to_string(n_kv_) + ": the " +
                           std::to_string(left) + " bytes after the header hold at most " +
                           std::to_string(left / kMinKvBytes));
    if (n_tensors_ > left / kMinTensorInfoBytes)
      fail_file(file_, "truncated or corrupt: absurd tensor count " + std::to_string(n_tensors_) + ": the " +
                           std::to_string(left) + " bytes after the header hold at most " +
                           std::to_string(left / kMinTensorInfoBytes) + " tensor infos");
    if (n_kv_ * kMinKvBytes + n_tensors_ * kMinTensorInfoBytes > left)
      fail_file(file_, "truncated or corrupt: absurd counts: " + std::to_string(n_kv_) + " key-value pairs and " +
                           std::to_string(n_tensors_) + " tensor infos cannot fit in the " + std::to_string(left) +
                           " bytes after the header");
  }

  // A length-prefixed string; the length is checked against the bytes left before copying.
  std::string read_string(std::string_view what) {
    if (r_.remaining() < 8) r_.need(8, std::string("the length of ") + std::string(what));
    const uint64_t len = r_.read<uint64_t>("a string length");
    if (len > r_.remaining())
      r_.fail("truncated or corrupt: string length " + std::to_string(len) + " of " + std::string(what) +
              " runs past the end of the file (" + std::to_string(r_.remaining()) + " bytes remain)");
    const uint8_t* p = r_.read_bytes(len, what);
    return std::string(reinterpret_cast<const char*>(p), len);
  }

  void read_metadata() {
    layout_.metadata.reserve(n_kv_);
    std::unordered_map<std::string, uint64_t> seen;
    for (uint64_t i = 0; i < n_kv_; ++i) {
      std::string key = read_string("metadata key #" + std::to_string(i));
      if (key.empty()) r_.fail("metadata key #" + std::to_string(i) + " is empty");
      if (key.size() > kMaxKeyLength)
        r_.fail("metadata key #" + std::to_string(i) + " is " + std::to_string(key.size()) +
                " bytes long, more than the 65535 the spec allows");
      if (auto [it, fresh] = seen.emplace(key, i); !fresh)
        r_.fail("duplicate metadata key '" + key + "' (entries #" + std::to_string(it->second) + " and #" +
                std::to_string(i) + ")");
      const std::string context = "the value of key '" + key + "'";
      const uint32_t type = r_.read<uint32_t>(context);
      if (!is_value_type(type)) r_.fail("metadata key '" + key + "' has unknown value type " + std::to_string(type));
      GgufValue value = read_value(GgufValueType(type), key, context, 0);
      layout_.metadata.emplace_back(std::move(key), std::move(value));
    }
  }

  GgufValue read_value(GgufValueType type, const std::string& key, const std::string& context, int depth) {
    GgufValue v;
    v.type = type;
    switch (type) {
      case GgufValueType::UINT8: v.data = uint64_t(r_.read<uint8_t>(context)); break;
      case GgufValueType::INT8: v.data = int64_t(r_.read<int8_t>(context)); break;
      case GgufValueType::UINT16: v.data = uint64_t(r_.read<uint16_t>(context)); break;
      case GgufValueType::INT16: v.data = int64_t(r_.read<int16_t>(context)); break;
      case GgufValueType::UINT32: v.data = uint64_t(r_.read<uint32_t>(context)); break;
      case GgufValueType::INT32: v.data = int64_t(r_.read<int32_t>(context)); break;
      case GgufValueType::UINT64: v.data = r_.read<uint64_t>(context); break;
      case GgufValueType::INT64: v.data = r_.read<int64_t>(context); break;
      case GgufValueType::FLOAT32: v.data = double(r_.read<float>(context)); break;
      case GgufValueType::FLOAT64: v.data = r_.read<double>(context); break;
      case GgufValueType::BOOL: {
        const uint8_t b = r_.read<uint8_t>(context);
        if (b > 1) r_.fail("metadata key '" + key + "' has BOOL byte " + std::to_string(b) + ", expected 0 or 1");
        v.data = b != 0;
        break;
      }
      case GgufValueType::STRING: v.data = read_string(context); break;
      case GgufValueType::ARRAY: read_array(v, key, context, depth); break;
    }
    return v;
  }

  void read_array(GgufValue& v, const std::string& key, const std::string& context, int depth) {
    if (depth >= kGgufMaxArrayNesting)
      r_.fail("metadata key '" + key + "' nests arrays deeper than " + std::to_string(kGgufMaxArrayNesting) +
              " levels");
    const uint32_t element_type = r_.read<uint32_t>(context);
    if (!is_value_type(element_type))
      r_.fail("metadata key '" + key + "' is an array of unknown value type " + std::to_string(element_type));
    v.array_type = GgufValueType(element_type);
    const uint64_t count = r_.read<uint64_t>(context);
    const uint64_t min_size = min_encoded_size(v.array_type);
    if (count > r_.remaining() / min_size)
      r_.fail("truncated or corrupt: metadata key '" + key + "' claims " + std::to_string(count) + " " +
              gguf_value_type_name(v.array_type) + " elements, more than the " + std::to_string(r_.remaining()) +
              " bytes left can hold");
    std::vector<GgufValue> elements;
    elements.reserve(count);
    for (uint64_t i = 0; i < count; ++i) elements.push_back(read_value(v.array_type, key, context, depth + 1));
    v.data = std::move(elements);
  }

  void resolve_alignment() {
    for (const auto& [key, value] : layout_.metadata) {
      if (key != "general.alignment") continue;
      if (value.type != GgufValueType::UINT32)
        fail_file(file_, std::string("metadata key 'general.alignment' must be UINT32, not ") +
                             gguf_value_type_name(value.type));
      const uint64_t a = std::get<uint64_t>(value.data);
      if (a == 0 || (a & (a - 1)) != 0)
        fail_file(file_, "metadata key 'general.alignment' is " + std::to_string(a) + ", not a power of two");
      layout_.alignment = a;
    }
  }

  void read_tensor_infos() {
    layout_.tensors.reserve(n_tensors_);
    std::unordered_map<std::string, uint64_t> seen;
    for (uint64_t i = 0; i < n_tensors_; ++i) {
      GgufTensorInfo t;
      t.name = read_string("the name of tensor info #" + std::to_string(i));
      if (t.name.empty()) r_.fail("tensor info #" + std::to_string(i) + " has an empty name");
      if (t.name.size() > kGgufMaxTensorName)
        r_.fail("tensor info #" + std::to_string(i) + " has a " + std::to_string(t.name.size()) +
                "-byte name, more than the 64 the spec allows");
      if (auto [it, fresh] = seen.emplace(t.name, i); !fresh)
        r_.fail("duplicate tensor name '" + t.name + "' (tensor infos #" + std::to_string(it->second) + " and #" +
                std::to_string(i) + ")");
      const std::string context = "the info of tensor '" + t.name + "'";
      read_shape(t, context);
      const uint32_t type_id = r_.read<uint32_t>(context);
      const auto type = ggml_type_from_id(type_id);
      if (!type) r_.fail("tensor '" + t.name + "' has unknown ggml type id " + std::to_string(type_id));
      t.type = *type;
      const uint64_t block = ggml_block_size(t.type);
      if (t.row_length() % block != 0)
        r_.fail("tensor '" + t.name + "' has rows of " + std::to_string(t.row_length()) +
                " elements, not a multiple of the " + ggml_type_name(t.type) + " block size " + std::to_string(block));
      const uint64_t blocks = t.row_length() / block, block_bytes = ggml_block_bytes(t.type);
      if (blocks > std::numeric_limits<uint64_t>::max() / block_bytes ||
          t.n_rows() > std::numeric_limits<uint64_t>::max() / (blocks * block_bytes))
        r_.fail("tensor '" + t.name + "' is larger than 2^64 bytes");
      t.offset = r_.read<uint64_t>(context);
      if (t.offset % layout_.alignment != 0)
        r_.fail("tensor '" + t.name + "' has data offset " + std::to_string(t.offset) +
                ", not a multiple of the alignment " + std::to_string(layout_.alignment));
      layout_.tensors.push_back(std::move(t));
    }
  }

  void read_shape(GgufTensorInfo& t, const std::string& context) {
    const uint32_t n_dims = r_.read<uint32_t>(context);
    if (n_dims > kGgufMaxDims)
      r_.fail("tensor '" + t.name + "' has n_dims = " + std::to_string(n_dims) + ", more than the " +
              std::to_string(kGgufMaxDims) + " GGUF allows");
    uint64_t elements = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const uint64_t ne = r_.read<uint64_t>(context);
      if (ne == 0) r_.fail("tensor '" + t.name + "' has dimension " + std::to_string(d) + " equal to 0");
      // ggml counts elements in int64_t, so the product must stay below 2^63.
      if (ne > uint64_t(std::numeric_limits<int64_t>::max()) / elements)
        r_.fail("tensor '" + t.name + "' dimension " + std::to_string(d) + " = " + std::to_string(ne) +
                " makes the element count overflow 64 bits");
      elements *= ne;
      t.dims.push_back(ne);
    }
  }

  void check_tensor_extents() {
    const uint64_t size = r_.size();
    const uint64_t start = layout_.data_offset;
    const uint64_t data_size = size > start ? size - start : 0;
    std::vector<const GgufTensorInfo*> by_offset;
    by_offset.reserve(layout_.tensors.size());
    for (const auto& t : layout_.tensors) {
      const uint64_t n = t.n_bytes();
      if (t.offset > data_size || n > data_size - t.offset)
        fail_file(file_, "tensor '" + t.name + "' data (" + std::to_string(n) + " bytes at offset " +
                             std::to_string(t.offset) + " of the data section starting at byte " +
                             std::to_string(start) + ") extends past the end of the " + std::to_string(size) +
                             "-byte file");
      by_offset.push_back(&t);
    }
    std::sort(by_offset.begin(), by_offset.end(),
              [](const GgufTensorInfo* a, const GgufTensorInfo* b) { return a->offset < b->offset; });
    for (size_t i = 1; i < by_offset.size(); ++i) {
      const GgufTensorInfo& a = *by_offset[i - 1];
      const GgufTensorInfo& b = *by_offset[i];
      if (a.offset + a.n_bytes() > b.offset)
        fail_file(file_, "tensors '" + a.name + "' (bytes " + std::to_string(a.offset) + ".." +
                             std::to_string(a.offset + a.n_bytes()) + ") and '" + b.name + "' (from byte " +
                             std::to_string(b.offset) + ") overlap in the data section");
    }
  }

  ByteReader r_;
  const std::string& file_;
  GgufLayout layout_;
  uint64_t n_tensors_ = 0;
  uint64_t n_kv_ = 0;
};

}  // namespace

GgufLayout parse_gguf(const uint8_t* data, uint64_t size, const std::string& file) {
  return GgufParser(data, size, file).parse();
}

}  // namespace vkq::model
