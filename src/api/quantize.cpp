// Public quantize (vkquant.hpp): the calibration driver does the work.
#include "calibrate/quantize_run.hpp"

namespace vkq {

QuantizeResult quantize(const QuantizeOptions& options, const ProgressCallback& progress, const CancelFlag* cancel) {
  return calibrate::run_quantize(options, progress, cancel);
}

}  // namespace vkq
