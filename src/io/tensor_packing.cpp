#include "io/tensor_packing.hpp"

#include "model/ggml_types.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::io {

namespace {
bool has_min(model::GgmlType t) { return t == model::GgmlType::Q4_1 || t == model::GgmlType::Q5_1; }
}  // namespace

std::vector<uint8_t> pack_quantized_tensor(const TensorPlan& t, std::span<const int32_t> codes, std::span<const float> d,
                                           std::span<const float> m, const std::string& op) {
  if (t.action != TensorAction::quantize)
    throw Error(op + ": the plan says " + tensor_action_name(t.action) + " to " + model::ggml_type_name(t.output_type) +
                ", not quantize");
  const uint64_t rows = t.rows(), cols = t.cols();
  const uint64_t blocks = cols / model::kLegacyBlockSize;
  if (codes.size() != rows * cols)
    throw Error(op + ": " + std::to_string(codes.size()) + " codes for " + std::to_string(rows) + " x " +
                std::to_string(cols));
  if (d.size() != rows * blocks)
    throw Error(op + ": " + std::to_string(d.size()) + " scales d, expected " + std::to_string(rows * blocks));
  if (has_min(t.output_type) && m.size() != rows * blocks)
    throw Error(op + ": " + model::ggml_type_name(t.output_type) + " needs " + std::to_string(rows * blocks) +
                " block minimums m, got " + std::to_string(m.size()));
  const uint64_t row_bytes = model::ggml_row_size(t.output_type, cols);
  std::vector<uint8_t> bytes(rows * row_bytes);
  for (uint64_t r = 0; r < rows; ++r)
    model::pack_row(t.output_type, d.data() + r * blocks, has_min(t.output_type) ? m.data() + r * blocks : nullptr,
                    codes.data() + r * cols, cols, bytes.data() + r * row_bytes);
  return bytes;
}

std::vector<uint8_t> pack_superblock_tensor(const TensorPlan& t, std::span<const int32_t> codes,
                                            std::span<const float> d, std::span<const float> dmin,
                                            std::span<const int32_t> scales, std::span<const int32_t> mins,
                                            const std::string& op) {
  if (t.action != TensorAction::quantize || !model::is_superblock_type(t.output_type))
    throw Error(op + ": the plan says " + tensor_action_name(t.action) + " to " + model::ggml_type_name(t.output_type) +
                ", not a super-block type");
  const uint64_t block = model::ggml_block_size(t.output_type);  // 256, or IQ4_NL's 32
  const uint64_t rows = t.rows(), cols = t.cols(), per_row = cols / block, blocks = rows * per_row;
  if (codes.size() != rows * cols)
    throw Error(op + ": " + std::to_string(codes.size()) + " codes for " + std::to_string(rows) + " x " +
                std::to_string(cols));
  if (d.size() != blocks || dmin.size() != blocks || scales.size() != blocks * 16 || mins.size() != blocks * 16)
    throw Error(op + ": parameters for " + std::to_string(d.size()) + " super-blocks, expected " + std::to_string(blocks));
  const uint64_t row_bytes = model::ggml_row_size(t.output_type, cols), block_bytes = model::ggml_block_bytes(t.output_type);
  std::vector<uint8_t> bytes(rows * row_bytes);
  for (uint64_t b = 0; b < blocks; ++b)
    model::pack_superblock(t.output_type, d[b], dmin[b], scales.data() + b * 16, mins.data() + b * 16,
                           codes.data() + b * block, bytes.data() + b * block_bytes);
  return bytes;
}

}  // namespace vkq::io
