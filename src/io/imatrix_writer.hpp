// Calibration statistics as an importance-matrix file in llama.cpp's GGUF imatrix format, so that
// `llama-quantize --imatrix FILE` reuses a vkquant calibration: per tensor, `<name>.in_sum2` (the
// sum over calibration tokens of each input channel's squared activation) and `<name>.counts` (the
// number of tokens), with general.type = "imatrix" and the imatrix.* keys llama-imatrix writes.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace vkq::io {

class GgufWriter;

struct ImatrixEntry {
  std::vector<double> in_sum2;  // per input column: sum_t x_tj^2
  uint64_t count = 0;           // tokens summed
};

class ImatrixWriter {
 public:
  // Opens PATH.partial at once, so an existing PATH (without `force`) fails before any work.
  ImatrixWriter(const std::string& path, bool force);
  ~ImatrixWriter();  // unless written, the partial file is removed

  // Writes the entries (sorted by tensor name, as llama-imatrix does) and commits the file.
  // `datasets`: the calibration files; chunk_count x chunk_size: the calibration sequences.
  void write(const std::map<std::string, ImatrixEntry>& entries, const std::vector<std::string>& datasets,
             uint32_t chunk_count, uint32_t chunk_size);

 private:
  std::unique_ptr<GgufWriter> writer_;
};

}  // namespace vkq::io
