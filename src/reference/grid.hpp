// ALGORITHMS.md §3 — grids: the generic b-bit integer grid and the GGUF legacy blocks
// (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1), float64 reference.
//
// Rounding conventions (the Vulkan kernels must use the same):
// - The code argument is x = (w − min) / scale, a float64 division (0 when scale = 0).
// - Q8_0: q = round-half-away-from-zero(x) (ggml's roundf), clamped to [−127, 127].
// - Every other format: q = floor(x + 0.5) + zero (round half up), clamped to the code range.
//   For Q4_0/Q5_0 this is ggml's (int8)(x·id + 8.5) / (+ 16.5) — truncation of a nonnegative
//   number is floor — and for Q4_1/Q5_1 ggml's (int8)(x·id + 0.5).
// - GGUF stored parameters (d, and m for Q4_1/Q5_1) are computed in float64, narrowed to fp32 and
//   rounded to fp16 BEFORE any weight is rounded against them (§3 "exactly the stored
//   parameters"); ggml instead rounds against its fp32 d, so a code can differ from ggml's where
//   x is within fp16 precision of a rounding boundary. Decoding is identical to ggml's.
// - Q4_0/Q5_0: v is the first value of largest magnitude in the block, d = v/−8 (/−16).
// - INT (as GPTQ's quantizer): the range [min, max] is widened to contain 0, so the zero point is
//   a storable code in [0, maxq]; asymmetric scale = (max − min)/maxq, zero = floor(−min/scale + 0.5);
//   symmetric scale = 2·max|w|/maxq, zero = (maxq + 1)/2. An all-zero group (scale 0) uses
//   GPTQ's guard range [−1, 1], so its codes decode to exactly 0.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "reference/layer_spec.hpp"

namespace vkq::ref {

struct CodeRange {
  int32_t lo = 0, hi = 0;
};

// Throws vkq::Error naming the problem (bits out of 2..8, GGUF group other than 32, n not a
// multiple of 32 for GGUF, n = 0).
void validate_grid(const GridSpec& spec, size_t n);

CodeRange code_range(const GridSpec& spec);
size_t group_size(const GridSpec& spec, size_t n);       // columns per group (GGUF: 32, INT 0: n)
size_t groups_per_row(const GridSpec& spec, size_t n);   // ceil(n / group_size); the last may be partial
bool is_gguf(const GridSpec& spec);

// Min-max parameters of one group of g values; `shrink` scales the range (clip search, §3 GS):
// INT/Q4_1/Q5_1 shrink max and min alike, Q8_0 shrinks amax, Q4_0/Q5_0 shrink v.
GroupParams params_for(const double* w, size_t g, const GridSpec& spec, double shrink = 1.0);

// A scale or min as the format stores it: GGUF narrows to fp32 and rounds to fp16 (±inf beyond its
// range); INT keeps float64.
double stored_value(const GridSpec& spec, double v);

int32_t quantize_value(double w, const GroupParams& p, const GridSpec& spec);
// The code argument x = (w − min)/scale lies within rel·(1 + |x|) of a rounding boundary: where an fp32
// computation may round apart from float64 (e.g. a symmetric grid's largest weight sits exactly at maxq/2).
bool code_near_tie(double w, const GroupParams& p, const GridSpec& spec, double rel = 1e-5);
double dequantize_code(int32_t code, const GroupParams& p, const GridSpec& spec);

// A whole m × n matrix: codes row-major, params rows × groups_per_row (groups in column order).
struct EncodedMatrix {
  size_t rows = 0, cols = 0, groups_per_row = 0;
  std::vector<int32_t> codes;
  std::vector<GroupParams> params;
};

// Min-max params per (row, group), then the codes.
EncodedMatrix encode_matrix(const double* w, size_t m, size_t n, const GridSpec& spec);
// Codes of w against given params (rows × groups_per_row).
EncodedMatrix encode_with_params(const double* w, size_t m, size_t n, const GridSpec& spec,
                                 const std::vector<GroupParams>& params);
std::vector<double> decode_matrix(const EncodedMatrix& e, const GridSpec& spec);

}  // namespace vkq::ref
