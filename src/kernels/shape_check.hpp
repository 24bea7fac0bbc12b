// Shape and extent checks shared by kernel wrappers: a wrong shape is a vkq::Error naming the
// kernel and operand, never an out-of-bounds GPU access. Shaders index with 32-bit uints.
#pragma once

#include <cstdint>
#include <string>

#include "vk/buffer.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::kernels {

inline void require_matrix_fits(const char* kernel, const char* operand, const vk::Buffer& buf, uint64_t offset,
                                uint64_t rows, uint64_t cols, uint64_t stride, uint64_t elem_bytes) {
  if (rows == 0 || cols == 0) return;
  if (stride < cols)
    throw Error(std::string(kernel) + ": operand " + operand + " has row stride " + std::to_string(stride) +
                " below its " + std::to_string(cols) + " columns");
  const uint64_t last = offset + (rows - 1) * stride + cols;  // one past the last element
  if (last > UINT32_MAX)
    throw Error(std::string(kernel) + ": operand " + operand + " spans " + std::to_string(last) +
                " elements, above the 2^32 a shader can index; split the problem");
  if (last * elem_bytes > buf.size())
    throw Error(std::string(kernel) + ": operand " + operand + " (" + std::to_string(rows) + " x " +
                std::to_string(cols) + ") does not fit buffer '" + buf.label() + "' of " +
                std::to_string(buf.size()) + " bytes");
}

}  // namespace vkq::kernels
