// CPU decoding of ggml's super-block ("K") types Q2_K … Q6_K: 256 elements per block with
// sub-block scales (and mins) quantized against fp16 super-block scales — and of the non-linear IQ4_NL /
// IQ4_XS, whose 4-bit codes index a fixed 16-value grid — operation for operation
// as ggml's dequantize_row_q*_K reference, so results are bit-identical. Internal to
// ggml_dequantize.cpp's dequantize_row; `nb` counts 256-element blocks.
#pragma once

#include <cstdint>

namespace vkq::model {

void dequantize_q2_k(const uint8_t* src, float* dst, uint64_t nb);
void dequantize_q3_k(const uint8_t* src, float* dst, uint64_t nb);
void dequantize_q4_k(const uint8_t* src, float* dst, uint64_t nb);
void dequantize_q5_k(const uint8_t* src, float* dst, uint64_t nb);
void dequantize_q6_k(const uint8_t* src, float* dst, uint64_t nb);
// The non-linear 4-bit types: IQ4_NL (32-element blocks, `nb` of them) and IQ4_XS (256-element blocks).
void dequantize_iq4_nl(const uint8_t* src, float* dst, uint64_t nb);
void dequantize_iq4_xs(const uint8_t* src, float* dst, uint64_t nb);

}  // namespace vkq::model
