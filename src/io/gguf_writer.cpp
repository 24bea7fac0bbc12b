// GgufWriter: validates declarations as they come (so a bad tensor fails before hours of
// calibration, not at the end), lays out aligned offsets, and streams the data section.
#include "io/gguf_writer.hpp"

#include <limits>
#include <unordered_set>

#include "io/atomic_file.hpp"
#include "io/gguf_encode.hpp"
#include "io/gguf_values.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::io {
namespace {

using model::GgmlType;
using model::GgufValue;
using model::GgufValueType;

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" as a little-endian uint32
constexpr uint64_t kDefaultAlignment = 32;
constexpr uint32_t kMaxDims = 4;
constexpr size_t kMaxTensorName = 64;
constexpr uint64_t kMaxKeyLength = 65535;

uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

// Counts a producer's bytes so that a short or long tensor is caught, naming the tensor.
class CountingSink : public TensorSink {
 public:
  CountingSink(AtomicFile& file, const model::GgufTensorInfo& info) : file_(file), info_(info) {}
  void write(const void* data, size_t n) override {
    if (n > info_.n_bytes() - written_)
      throw Error(file_.path() + ": tensor '" + info_.name + "': producer wrote more than its " +
                  std::to_string(info_.n_bytes()) + " bytes");
    file_.write(data, n);
    written_ += n;
  }
  uint64_t written() const { return written_; }

 private:
  AtomicFile& file_;
  const model::GgufTensorInfo& info_;
  uint64_t written_ = 0;
};

}  // namespace

GgufWriter::GgufWriter(std::string path, bool force) : path_(std::move(path)) {
  file_ = std::make_unique<AtomicFile>(path_, force);
}

GgufWriter::~GgufWriter() = default;

void GgufWriter::require_state(State state, const char* operation) const {
  if (state_ == state) return;
  static const char* const names[] = {"while declaring", "while writing data", "after finishing"};
  throw Error(path_ + ": " + operation + " is not allowed " + names[int(state_)]);
}

// --- metadata ---

void GgufWriter::set(std::string key, GgufValue value) {
  require_state(State::declaring, "setting metadata");
  if (key.empty() || key.size() > kMaxKeyLength)
    throw Error(path_ + ": metadata key '" + key + "' must be 1 to 65535 bytes long");
  std::vector<uint8_t> scratch;
  try {
    append_value(scratch, value, key);  // validates the value now rather than at write time
  } catch (const Error& e) {
    throw Error(path_ + ": " + e.what());
  }
  if (key == "general.alignment") {
    if (value.type != GgufValueType::UINT32)
      throw Error(path_ + ": metadata key 'general.alignment' must be UINT32, not " + gguf_value_type_name(value.type));
    const uint64_t a = value.as_u64(key);
    if (a == 0 || (a & (a - 1)) != 0)
      throw Error(path_ + ": metadata key 'general.alignment' is " + std::to_string(a) + ", not a power of two");
  }
  for (auto& [k, v] : metadata_)
    if (k == key) {
      v = std::move(value);
      return;
    }
  metadata_.emplace_back(std::move(key), std::move(value));
}

void GgufWriter::add(std::string key, GgufValue value) {
  for (const auto& kv : metadata_)
    if (kv.first == key) throw Error(path_ + ": metadata key '" + key + "' added twice");
  set(std::move(key), std::move(value));
}

void GgufWriter::copy_metadata(const model::GgufFile& src) {
  for (const auto& [key, value] : src.metadata()) add(key, value);
}

void GgufWriter::add_u8(std::string key, uint8_t v) { add(std::move(key), gguf_scalar(GgufValueType::UINT8, uint64_t(v))); }
void GgufWriter::add_i8(std::string key, int8_t v) { add(std::move(key), gguf_scalar(GgufValueType::INT8, int64_t(v))); }
void GgufWriter::add_u16(std::string key, uint16_t v) {
  add(std::move(key), gguf_scalar(GgufValueType::UINT16, uint64_t(v)));
}
void GgufWriter::add_i16(std::string key, int16_t v) { add(std::move(key), gguf_scalar(GgufValueType::INT16, int64_t(v))); }
void GgufWriter::add_u32(std::string key, uint32_t v) {
  add(std::move(key), gguf_scalar(GgufValueType::UINT32, uint64_t(v)));
}
void GgufWriter::add_i32(std::string key, int32_t v) { add(std::move(key), gguf_scalar(GgufValueType::INT32, int64_t(v))); }
void GgufWriter::add_u64(std::string key, uint64_t v) { add(std::move(key), gguf_scalar(GgufValueType::UINT64, v)); }
void GgufWriter::add_i64(std::string key, int64_t v) { add(std::move(key), gguf_scalar(GgufValueType::INT64, v)); }
void GgufWriter::add_f32(std::string key, float v) { add(std::move(key), gguf_scalar(GgufValueType::FLOAT32, double(v))); }
void GgufWriter::add_f64(std::string key, double v) { add(std::move(key), gguf_scalar(GgufValueType::FLOAT64, v)); }
void GgufWriter::add_bool(std::string key, bool v) { add(std::move(key), gguf_scalar(GgufValueType::BOOL, v)); }
void GgufWriter::add_string(std::string key, std::string v) {
  add(std::move(key), gguf_scalar(GgufValueType::STRING, std::move(v)));
}
void GgufWriter::add_string_array(std::string key, const std::vector<std::string>& v) {
  add(std::move(key), gguf_array(GgufValueType::STRING, v));
}
void GgufWriter::add_f32_array(std::string key, const std::vector<float>& v) {
  add(std::move(key), gguf_array(GgufValueType::FLOAT32, v));
}
void GgufWriter::add_i32_array(std::string key, const std::vector<int32_t>& v) {
  add(std::move(key), gguf_array(GgufValueType::INT32, v));
}

uint64_t GgufWriter::alignment() const {
  for (const auto& [k, v] : metadata_)
    if (k == "general.alignment") return v.as_u64(k);
  return kDefaultAlignment;
}

// --- tensors ---

void GgufWriter::add_pending(std::string name, std::vector<uint64_t> dims, GgmlType type, PendingTensor pending) {
  require_state(State::declaring, "adding a tensor");
  auto fail = [&](const std::string& problem) { throw Error(path_ + ": tensor '" + name + "': " + problem); };
  if (name.empty() || name.size() > kMaxTensorName) fail("names must be 1 to 64 bytes long");
  for (const auto& t : tensors_)
    if (t.info.name == name) fail("added twice");
  if (dims.empty() || dims.size() > kMaxDims) fail("has " + std::to_string(dims.size()) + " dims, expected 1 to 4");
  uint64_t elements = 1;
  for (uint64_t d : dims) {
    if (d == 0) fail("has a dimension of 0");
    if (d > uint64_t(std::numeric_limits<int64_t>::max()) / elements) fail("element count overflows 64 bits");
    elements *= d;
  }
  if (!model::ggml_type_from_id(uint32_t(type))) fail("unknown ggml type id " + std::to_string(uint32_t(type)));
  if (dims[0] % model::ggml_block_size(type) != 0)
    fail("rows of " + std::to_string(dims[0]) + " elements are not a whole number of " + model::ggml_type_name(type) +
         " blocks of " + std::to_string(model::ggml_block_size(type)));
  pending.info.dims = std::move(dims);
  pending.info.type = type;
  const uint64_t rows = pending.info.n_rows();
  const uint64_t row_bytes = model::ggml_row_size(type, pending.info.row_length());
  if (rows > std::numeric_limits<uint64_t>::max() / row_bytes) fail("byte size overflows 64 bits");
  if (!pending.pushed && !pending.produce && pending.bytes.size() != pending.info.n_bytes())
    fail("given " + std::to_string(pending.bytes.size()) + " bytes, but " + model::ggml_type_name(type) +
         " with these dims takes " + std::to_string(pending.info.n_bytes()));
  pending.info.name = std::move(name);
  tensors_.push_back(std::move(pending));
}

void GgufWriter::add_tensor(std::string name, std::vector<uint64_t> dims, GgmlType type, std::vector<uint8_t> bytes) {
  PendingTensor p;
  p.bytes = std::move(bytes);
  add_pending(std::move(name), std::move(dims), type, std::move(p));
}

void GgufWriter::add_tensor(std::string name, std::vector<uint64_t> dims, GgmlType type, TensorProducer produce) {
  if (!produce) throw Error(path_ + ": tensor '" + name + "': empty producer");
  PendingTensor p;
  p.produce = std::move(produce);
  add_pending(std::move(name), std::move(dims), type, std::move(p));
}

void GgufWriter::add_tensor_info(std::string name, std::vector<uint64_t> dims, GgmlType type) {
  PendingTensor p;
  p.pushed = true;
  add_pending(std::move(name), std::move(dims), type, std::move(p));
}

// --- output ---

void GgufWriter::begin() {
  require_state(State::declaring, "begin()");
  const uint64_t align = alignment();
  uint64_t offset = 0;
  for (auto& t : tensors_) {
    t.info.offset = offset;
    offset = align_up(offset + t.info.n_bytes(), align);
  }
  std::vector<uint8_t> header;
  append_pod<uint32_t>(header, kMagic);
  append_pod<uint32_t>(header, 3);
  append_pod<uint64_t>(header, tensors_.size());
  append_pod<uint64_t>(header, metadata_.size());
  for (const auto& [key, value] : metadata_) {
    append_string(header, key);
    append_pod<uint32_t>(header, uint32_t(value.type));
    append_value(header, value, key);
  }
  for (const auto& t : tensors_) {
    append_string(header, t.info.name);
    append_pod<uint32_t>(header, uint32_t(t.info.dims.size()));
    for (uint64_t d : t.info.dims) append_pod<uint64_t>(header, d);
    append_pod<uint32_t>(header, uint32_t(t.info.type));
    append_pod<uint64_t>(header, t.info.offset);
  }
  state_ = State::writing;
  file_->write(header.data(), header.size());
  pad_to_alignment();
  data_start_ = file_->bytes_written();
  write_held_until_pushed();
}

void GgufWriter::pad_to_alignment() {
  const uint64_t n = file_->bytes_written();
  file_->write_zeros(size_t(align_up(n, alignment()) - n));
}

void GgufWriter::write_data(const PendingTensor& t, const void* data, size_t n) {
  if (n != t.info.n_bytes())
    throw Error(path_ + ": tensor '" + t.info.name + "': got " + std::to_string(n) + " bytes, expected " +
                std::to_string(t.info.n_bytes()));
  file_->write(data, n);
  pad_to_alignment();
}

void GgufWriter::write_produced(PendingTensor& t) {
  CountingSink sink(*file_, t.info);
  t.produce(sink);
  if (sink.written() != t.info.n_bytes())
    throw Error(path_ + ": tensor '" + t.info.name + "': producer wrote " + std::to_string(sink.written()) +
                " bytes, expected " + std::to_string(t.info.n_bytes()));
  pad_to_alignment();
  t.produce = nullptr;  // releases whatever the callback captured
}

// Writes the tensors whose bytes are held or produced here, up to the next pushed one.
void GgufWriter::write_held_until_pushed() {
  while (next_tensor_ < tensors_.size() && !tensors_[next_tensor_].pushed) {
    PendingTensor& t = tensors_[next_tensor_];
    if (file_->bytes_written() != data_start_ + t.info.offset)
      throw Error(path_ + ": internal error: tensor '" + t.info.name + "' is not at its declared offset");
    if (t.produce) {
      write_produced(t);
    } else {
      write_data(t, t.bytes.data(), t.bytes.size());
      std::vector<uint8_t>().swap(t.bytes);  // written: free it, peak memory stays one tensor
    }
    ++next_tensor_;
  }
}

void GgufWriter::write_tensor(std::string_view name, const void* data, size_t n) {
  require_state(State::writing, "write_tensor()");
  write_held_until_pushed();
  if (next_tensor_ == tensors_.size())
    throw Error(path_ + ": write_tensor('" + std::string(name) + "'): every declared tensor is already written");
  PendingTensor& t = tensors_[next_tensor_];
  if (t.info.name != name)
    throw Error(path_ + ": write_tensor('" + std::string(name) + "'): tensors must come in declared order; next is '" +
                t.info.name + "'");
  write_data(t, data, n);
  ++next_tensor_;
  write_held_until_pushed();
}

void GgufWriter::finish() {
  require_state(State::writing, "finish()");
  write_held_until_pushed();
  if (next_tensor_ < tensors_.size())
    throw Error(path_ + ": tensor '" + tensors_[next_tensor_].info.name + "' was declared but its data never written");
  file_->commit();
  state_ = State::finished;
}

void GgufWriter::write() {
  begin();
  finish();
}

}  // namespace vkq::io
