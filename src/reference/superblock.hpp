// ALGORITHMS.md §3 on ggml's super-block ("K") formats, float64 reference: the parameters of each
// 256-column super-block (fp16 d/dmin, quantized sub-block scales/mins) chosen by a search weighted by
// per-column importances c_j (diag H̃, the role llama.cpp's imatrix plays) and scored with the stored
// values; the codes are then an INT grid of sub-blocks (superblock_grid) rounded against them, so the
// GPTQ/beam sweeps round on K grids exactly as on any static-group grid.
//
// Effective sub-block params (ŵ = scale·(u − zero) + min, u the INT code):
//   Q2_K  u ∈ 0..3,  16 sub-blocks of 16: scale = d·sc, min = −dmin·m   (sc, m 4-bit)
//   Q3_K  u ∈ 0..7,  16 of 16:            scale = d·sc, zero = 4         (sc −32..31)
//   Q4_K  u ∈ 0..15,  8 of 32:            scale = d·sc, min = −dmin·m   (sc, m 6-bit)
//   Q5_K  u ∈ 0..31,  8 of 32:            scale = d·sc, min = −dmin·m   (sc, m 6-bit)
//   Q6_K  u ∈ 0..63, 16 of 16:            scale = d·sc, zero = 32        (sc int8)
//   IQ4_NL   u ∈ 0..15, one 32-column block:  ŵ = d·kIq4Values[u]
//   IQ4_XS   u ∈ 0..15,  8 of 32:            ŵ = d·sc·kIq4Values[u]        (sc −32..31)
// d·sc and dmin·m are exact in fp32 (an fp16 times a small integer), so these equal ggml's decode.
#pragma once

#include <algorithm>
#include <cstddef>
#include <vector>

#include "reference/layer_spec.hpp"
#include "reference/row_refit.hpp"

namespace vkq::ref {

inline constexpr size_t kSuperBlockColumns = 256;

const char* superblock_name(SuperBlock f);       // "Q4_K"
size_t superblock_subblock_columns(SuperBlock f);  // 16 or 32
size_t superblock_columns(SuperBlock f);           // 256 (IQ4_NL: 32)
GridSpec superblock_grid(SuperBlock f);          // the INT grid of its codes (bits, sub-block group)
// vkq::Error unless f ≠ none and n is a positive multiple of superblock_columns(f).
void validate_superblock(SuperBlock f, size_t n);

// vkq::Error unless options with superblock ≠ none are consistent: grid = superblock_grid, n a multiple
// of 256, static groups (the parameters come from T before any rounding), no clip search (the
// super-block search is the scale search). Nothing to check when superblock = none.
void validate_superblock_options(const LayerQuantOptions& o, size_t n);

// Effective params of sub-block k of a stored super-block.
GroupParams subblock_params(const SuperBlockParams& sb, size_t k, SuperBlock f);

struct SuperBlockSearch {
  std::vector<SuperBlockParams> blocks;  // rows × n/256
  std::vector<GroupParams> params;       // rows × sub-blocks per row (superblock_grid's groups)
};

// The search on target T (m × n, row-major); column_weight (n values ≥ 0) or null for unit weights.
// A sub-block whose weights are all zero uses unit weights. vkq::Error on non-finite T or a
// super-block scale beyond fp16.
SuperBlockSearch superblock_search(const double* t, size_t m, size_t n, SuperBlock f, const double* column_weight);

// Refit from swept codes (m × n, original column order): per sub-block the (scale, min) minimising
// Σ c_j (t_j − ŵ_j)² with the codes held fixed, stored as the format stores them (same d candidates and
// ±1 refinement, scored with those codes). A super-block keeps `current` (m × n/256) unless the stored
// refit fits its codes better, or where the refit would leave fp16. Same weights and errors as the search.
SuperBlockSearch superblock_refit(const double* t, const int32_t* codes, size_t m, size_t n, SuperBlock f,
                                  const double* column_weight, const std::vector<SuperBlockParams>& current);

// After a refit's sweep: every row whose loss dropped takes that sweep's results (adopt_better_rows in
// row_refit.hpp) and the refit's super-blocks. Returns the count.
template <class Result, class Sweep>
size_t adopt_better_rows(Result& res, const Sweep& s, const SuperBlockSearch& refit, SuperBlock f) {
  const size_t nb = res.cols / superblock_columns(f);
  return adopt_better_rows(res, s, [&](size_t i) {
    std::copy_n(refit.blocks.begin() + i * nb, nb, res.superblocks.begin() + i * nb);
  });
}

}  // namespace vkq::ref
