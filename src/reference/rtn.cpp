// ALGORITHMS.md §4 RTN — round T to the grid with min-max or clip-searched group params.
#include "reference/rtn.hpp"

#include "reference/scale_search.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::ref {

std::vector<GroupParams> static_group_params(const double* target, size_t m, size_t n, const GridSpec& spec,
                                             const ClipOptions& clip, const double* h_reg) {
  if (!clip.enabled) return encode_matrix(target, m, n, spec).params;
  if (!h_reg) throw vkq::Error("clip search needs the regularised Gram H̃ (none given)");
  return clip_search_params(target, m, n, h_reg, spec, clip);
}

EncodedMatrix rtn_quantize(const double* target, size_t m, size_t n, const GridSpec& spec, const ClipOptions& clip,
                           const double* h_reg) {
  return encode_with_params(target, m, n, spec, static_group_params(target, m, n, spec, clip, h_reg));
}

}  // namespace vkq::ref
