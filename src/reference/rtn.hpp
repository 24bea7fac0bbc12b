// ALGORITHMS.md §4 RTN — Q = grid(T), with min-max or clip-searched params (float64 reference).
#pragma once

#include <cstddef>
#include <vector>

#include "reference/grid.hpp"
#include "reference/layer_spec.hpp"

namespace vkq::ref {

// Params per (row, group), groups contiguous in column order, computed from T before any rounding:
// min-max, or the clip search scored with H̃ (h_reg, n × n; may be null when clip is off).
// These are also GPTQ's and beam's static groups.
std::vector<GroupParams> static_group_params(const double* target, size_t m, size_t n, const GridSpec& spec,
                                             const ClipOptions& clip, const double* h_reg);

// Codes and params of grid(T).
EncodedMatrix rtn_quantize(const double* target, size_t m, size_t n, const GridSpec& spec, const ClipOptions& clip,
                           const double* h_reg);

}  // namespace vkq::ref
