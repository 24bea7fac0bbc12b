#include "io/imatrix_writer.hpp"

#include <cstring>

#include "io/gguf_writer.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::io {

namespace {

std::vector<uint8_t> f32_bytes(const std::vector<float>& v) {
  std::vector<uint8_t> b(v.size() * sizeof(float));
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

}  // namespace

ImatrixWriter::ImatrixWriter(const std::string& path, bool force) : writer_(std::make_unique<GgufWriter>(path, force)) {}
ImatrixWriter::~ImatrixWriter() = default;

void ImatrixWriter::write(const std::map<std::string, ImatrixEntry>& entries, const std::vector<std::string>& datasets,
                          uint32_t chunk_count, uint32_t chunk_size) {
  if (entries.empty()) throw Error("--imatrix-out: no tensor was calibrated, so there are no statistics to write");
  writer_->add_string("general.type", "imatrix");
  writer_->add_string_array("imatrix.datasets", datasets);
  writer_->add_u32("imatrix.chunk_count", chunk_count);
  writer_->add_u32("imatrix.chunk_size", chunk_size);
  for (const auto& [name, e] : entries) {  // std::map: sorted by name
    std::vector<float> sums(e.in_sum2.begin(), e.in_sum2.end());
    writer_->add_tensor(name + ".in_sum2", {sums.size(), 1}, model::GgmlType::F32, f32_bytes(sums));
    writer_->add_tensor(name + ".counts", {1, 1}, model::GgmlType::F32, f32_bytes({float(e.count)}));
  }
  writer_->write();
}

}  // namespace vkq::io
