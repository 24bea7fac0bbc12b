// GGUF v3 writer (ggml docs/gguf.md). Metadata and tensor infos are declared first; then the
// data is streamed tensor by tensor — from bytes held here, from a producer callback run at its
// turn, or pushed by the caller — so a whole model never has to be in memory. Output goes
// through AtomicFile: the file appears at its path only once complete.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "model/gguf.hpp"

namespace vkq::io {

class AtomicFile;

// Where a producer writes its tensor's bytes, in any number of pieces; the total must equal
// the tensor's size (ggml_row_size of dims[0] times the number of rows).
class TensorSink {
 public:
  virtual ~TensorSink() = default;
  virtual void write(const void* data, size_t n) = 0;
};

using TensorProducer = std::function<void(TensorSink& sink)>;

class GgufWriter {
 public:
  // Opens PATH.partial at once, so an existing PATH (without `force`) fails before any work.
  explicit GgufWriter(std::string path, bool force = false);
  GgufWriter(const GgufWriter&) = delete;
  GgufWriter& operator=(const GgufWriter&) = delete;
  ~GgufWriter();  // unless finished, the partial file is removed

  // --- metadata, written in the order added; a key added twice is a vkq::Error ---
  void add(std::string key, model::GgufValue value);
  // Replaces the value of an existing key in place, or appends it.
  void set(std::string key, model::GgufValue value);
  // Every key-value of `src`, in its order and with its types (nested arrays included).
  void copy_metadata(const model::GgufFile& src);
  const std::vector<std::pair<std::string, model::GgufValue>>& metadata() const { return metadata_; }

  void add_u8(std::string key, uint8_t v);
  void add_i8(std::string key, int8_t v);
  void add_u16(std::string key, uint16_t v);
  void add_i16(std::string key, int16_t v);
  void add_u32(std::string key, uint32_t v);
  void add_i32(std::string key, int32_t v);
  void add_u64(std::string key, uint64_t v);
  void add_i64(std::string key, int64_t v);
  void add_f32(std::string key, float v);
  void add_f64(std::string key, double v);
  void add_bool(std::string key, bool v);
  void add_string(std::string key, std::string v);
  void add_string_array(std::string key, const std::vector<std::string>& v);
  void add_f32_array(std::string key, const std::vector<float>& v);
  void add_i32_array(std::string key, const std::vector<int32_t>& v);

  // --- tensors, written in the order added; dims in GGUF order (innermost first) ---
  void add_tensor(std::string name, std::vector<uint64_t> dims, model::GgmlType type, std::vector<uint8_t> bytes);
  void add_tensor(std::string name, std::vector<uint64_t> dims, model::GgmlType type, TensorProducer produce);
  // A tensor whose bytes the caller pushes with write_tensor() between begin() and finish().
  void add_tensor_info(std::string name, std::vector<uint64_t> dims, model::GgmlType type);

  // Writes everything (tensor data from bytes or producers, in order) and commits the file.
  void write();

  // Push mode: begin() writes the header; write_tensor() gives each tensor's bytes in declared
  // order (tensors with bytes or producers in between are written by it on the way);
  // finish() writes what remains and commits.
  void begin();
  void write_tensor(std::string_view name, const void* data, size_t n);
  void finish();

  uint64_t alignment() const;  // general.alignment when set, else 32

 private:
  struct PendingTensor {
    model::GgufTensorInfo info;
    std::vector<uint8_t> bytes;
    TensorProducer produce;
    bool pushed = false;  // bytes come through write_tensor()
  };

  void add_pending(std::string name, std::vector<uint64_t> dims, model::GgmlType type, PendingTensor pending);
  void write_held_until_pushed();
  void write_data(const PendingTensor& t, const void* data, size_t n);
  void write_produced(PendingTensor& t);
  void pad_to_alignment();
  enum class State { declaring, writing, finished };
  void require_state(State state, const char* operation) const;

  std::string path_;
  std::unique_ptr<AtomicFile> file_;
  std::vector<std::pair<std::string, model::GgufValue>> metadata_;
  std::vector<PendingTensor> tensors_;
  size_t next_tensor_ = 0;
  uint64_t data_start_ = 0;  // file offset of the data section
  State state_ = State::declaring;
};

}  // namespace vkq::io
