// The quality matrix of vkquant-quality: which methods (rows) and output types (columns) are run,
// and the measured cell of each pair. Only the public API's option names appear here.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include <vkquant/vkquant.hpp>

namespace vkq::quality {

// One row of the table: a method and the QuantizeOptions fields that define it.
struct MethodSpec {
  std::string label;           // as printed, e.g. "GPTQ+SARQC l=0.1"
  std::string method;          // rtn | gptq | beam
  double lambda = 0;           // SARQC strength, relative to mean(diag H)
  std::string saliency = "act";
  std::string alpha_mode = "fixed";
  uint32_t beam_width = 4;
};

// The rows of the issue-4 matrix: RTN, GPTQ, GPTQ+SARQC at each λ, SNRQ (sampled α), beam K=4.
inline std::vector<MethodSpec> default_methods(const std::vector<double>& lambdas) {
  std::vector<MethodSpec> m;
  m.push_back({"RTN", "rtn"});
  m.push_back({"GPTQ", "gptq"});
  for (double l : lambdas) {
    char label[64];
    std::snprintf(label, sizeof label, "GPTQ+SARQC l=%g", l);
    m.push_back({label, "gptq", l, "act"});
  }
  MethodSpec snrq{"SNRQ (sampled a)", "gptq"};
  snrq.alpha_mode = "sampled";
  m.push_back(snrq);
  MethodSpec beam{"beam K=4", "beam"};
  beam.beam_width = 4;
  m.push_back(beam);
  return m;
}

// The columns: GGUF types (written to a temp file, evaluated in the same run) and generic grids
// (evaluation only).
inline std::vector<std::string> default_types() { return {"Q8_0", "Q5_1", "Q4_1", "Q4_0", "INT3g32", "INT2g32"}; }

inline bool is_generic_type(const std::string& type) { return type.rfind("INT", 0) == 0; }

// A tensor a GGUF type could not hold, and what it was written as instead.
struct Fallback {
  std::string name, to, reason;
};

// One measured cell.
struct Cell {
  std::string method_label, type;
  bool ok = false;
  std::string error;
  double perplexity = 0, mean_nll = 0;
  uint64_t eval_tokens = 0, eval_windows = 0, calibration_tokens = 0;
  double run_seconds = 0;   // QuantizeResult::seconds (calibration, solving, writing, evaluation)
  double wall_seconds = 0;  // around the whole vkq::quantize call, including context creation
  std::vector<Fallback> fallbacks;     // tensors the GGUF type could not hold
  std::vector<std::string> quantized;  // tensors solved on the grid (gptq / beam / rtn)
};

}  // namespace vkq::quality
