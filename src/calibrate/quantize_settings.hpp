// Parses the public QuantizeOptions into the solver's option structs, with errors that name the
// option (--type, --method, --saliency, --alpha-mode, …).
#pragma once

#include <optional>
#include <string>

#include "io/output_plan.hpp"
#include "model/ggml_types.hpp"
#include "reference/layer_spec.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::calibrate {

struct OutputTarget {
  bool generic = false;                  // INT<b>[g<G>][s]: no GGUF type, evaluation only
  model::GgmlType gguf = model::GgmlType::Q4_0;   // a mixture's base type for -t Q4_K_M etc.
  std::optional<io::OutputMixture> mixture;       // -t names a llama-quantize K mixture
  ref::GridSpec grid;                    // for generic grids (GGUF grids come from the plan per tensor)
};

OutputTarget parse_output_target(const std::string& type);
ref::GridSpec grid_for_gguf_type(model::GgmlType t);  // vkq::Error for a type with no grid (K: its codes' INT grid)
ref::SuperBlock superblock_for_gguf_type(model::GgmlType t);  // none for the legacy types
// A super-block format forces static groups and replaces the clip/scale search by its own search.
ref::LayerQuantOptions layer_options(const QuantizeOptions& o, const ref::GridSpec& grid,
                                     ref::SuperBlock superblock = ref::SuperBlock::none);
void validate_quantize_options(const QuantizeOptions& o);

}  // namespace vkq::calibrate
