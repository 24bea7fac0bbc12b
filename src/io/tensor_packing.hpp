// A planned `quantize` tensor's codes and block parameters packed into its GGUF bytes, as soon as it is
// solved: the run then holds ~0.5–1 byte per weight instead of 4-byte codes until the file is written.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "io/output_plan.hpp"

namespace vkq::io {

// Legacy types (Q8_0, Q5_1, Q5_0, Q4_1, Q4_0): codes row-major (rows × cols, in the type's code range);
// d (and m for Q4_1/Q5_1) one per 32-column block, rows × cols/32, fp16-exact. `op` prefixes every error.
std::vector<uint8_t> pack_quantized_tensor(const TensorPlan& t, std::span<const int32_t> codes, std::span<const float> d,
                                           std::span<const float> m, const std::string& op);
// Super-block types (Q2_K … Q6_K, IQ4_XS, IQ4_NL): per (row, super-block) d, dmin and 16 sub-block scales
// and mins, codes numbered as model::pack_superblock's.
std::vector<uint8_t> pack_superblock_tensor(const TensorPlan& t, std::span<const int32_t> codes,
                                            std::span<const float> d, std::span<const float> dmin,
                                            std::span<const int32_t> scales, std::span<const int32_t> mins,
                                            const std::string& op);

}  // namespace vkq::io
