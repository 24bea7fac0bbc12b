// ALGORITHMS.md §4.5 — bounded search (beam of width K) over the GBS sweep, float64 reference.
//
// Each beam carries its own error-updated row and block errors; at every column each beam expands
// to every code of the grid (2^b levels, or all GGUF code values), scored
// loss + (w_j − level)²/U_jj² with the beam's own w_j, and the best K survive.
// Choices:
// - Static groups only: params are fixed from T before the search (rtn.hpp static_group_params),
//   so all beams share one grid per group and a code means the same level in every beam.
// - Order of candidates (deterministic): lower score, then the earlier parent (beams are kept in
//   this order), then the grid's own rounding choice for that beam (quantize_value) before any
//   other code, then the lower code. In exact arithmetic the rounding choice is the nearest level;
//   a floating-point near-tie never ranks another code of the same beam above it. Together this
//   makes K = 1 exactly the greedy sweep (same codes, same arithmetic, same loss).
// - The greedy path (the rounding choice at every column, i.e. the K = 1 result) is always kept:
//   when its child falls out of the best K it replaces the K-th. A plain beam can prune it and
//   end worse than greedy (partial losses do not bound the rest of the row); with it kept, the
//   result is never worse than K = 1; the other slots hold the best of the remaining candidates.
// - The result is the surviving beam with the lowest loss (the first on ties).
#pragma once

#include <cstddef>
#include <vector>

#include "reference/gptq.hpp"
#include "reference/layer_spec.hpp"

namespace vkq::ref {

SweepResult beam_quantize(const SweepProblem& pb, const SweepOptions& opt, const std::vector<GroupParams>& static_params,
                          size_t width);

}  // namespace vkq::ref
