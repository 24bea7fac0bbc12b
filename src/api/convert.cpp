// Public convert (vkquant.hpp): a Hugging Face checkpoint folder to an unquantized GGUF.
#include "calibrate/progress_tracker.hpp"
#include "io/hf_gguf.hpp"
#include "model/gguf.hpp"

namespace vkq {

ConvertResult convert(const ConvertOptions& options, const ProgressCallback& progress, const CancelFlag* cancel) {
  if (options.output_path.empty()) throw Error("convert: the output path (-o) is required");
  const io::HfTensorType type = io::parse_hf_tensor_type(options.type);
  calibrate::ProgressTracker tracker(progress, cancel, 1.0);
  tracker.begin("write", options.output_path, 1, 1);
  ConvertResult r;
  double reported = 0;
  // Cancelling between tensors throws out of the writer, which then removes OUT.partial.
  io::write_hf_as_gguf(options.model_path, options.output_path, type, options.force,
                       [&](uint64_t done, uint64_t total) {
                         const double f = total ? double(done) / double(total) : 1.0;
                         tracker.advance(f - reported);
                         reported = f;
                         r.bytes = done;
                         ++r.tensors;
                       });
  const model::GgufFile out = model::GgufFile::open(options.output_path);
  r.output_path = options.output_path;
  r.architecture = out.get_string("general.architecture");
  r.seconds = tracker.elapsed_seconds();
  tracker.finish();
  return r;
}

}  // namespace vkq
