#include "io/quantized_gguf_writer.hpp"

#include <vector>

#include "io/gguf_writer.hpp"
#include "io/tensor_packing.hpp"
#include "model/gguf.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::io {
namespace {

using model::GgmlType;
using model::GgufValue;
using model::GgufValueType;

GgufValue value(GgufValueType type, decltype(GgufValue::data) data) {
  GgufValue v;
  v.type = type;
  v.data = std::move(data);
  return v;
}
GgufValue u32(uint64_t v) { return value(GgufValueType::UINT32, v); }
GgufValue u64(uint64_t v) { return value(GgufValueType::UINT64, v); }
GgufValue f64(double v) { return value(GgufValueType::FLOAT64, v); }
GgufValue boolean(bool v) { return value(GgufValueType::BOOL, v); }
GgufValue str(std::string v) { return value(GgufValueType::STRING, std::move(v)); }


// vkquant.* keys; set() so that re-quantizing a vkquant file replaces its old record.
void set_settings(GgufWriter& w, const RunSettings& s) {
  w.set("vkquant.version", str(s.vkquant_version));
  w.set("vkquant.method", str(s.method));
  w.set("vkquant.type", str(s.type));
  if (s.bits > 0) {  // only the generic integer grid has free bits/group; GGUF types imply them
    w.set("vkquant.bits", u32(uint64_t(s.bits)));
    w.set("vkquant.group_size", u64(s.group_size));
  }
  w.set("vkquant.lambda", f64(s.lambda));
  w.set("vkquant.alpha_mode", str(s.alpha_mode));
  w.set("vkquant.alpha", f64(s.alpha));
  w.set("vkquant.alpha_beta", f64(s.alpha_beta));
  w.set("vkquant.saliency", str(s.saliency));
  w.set("vkquant.damp", f64(s.damp));
  w.set("vkquant.act_order", boolean(s.act_order));
  w.set("vkquant.static_groups", boolean(s.static_groups));
  w.set("vkquant.block", u64(s.block));
  w.set("vkquant.beam_width", u64(s.beam_width));
  w.set("vkquant.scale_search", str(s.scale_search));
  w.set("vkquant.calib_file", str(s.calib_file));
  w.set("vkquant.calib_range", str(s.calib_range));
  w.set("vkquant.calib_protocol", str(s.calib_protocol));
  w.set("vkquant.calib_rounded_embedding", boolean(s.calib_rounded_embedding));
  w.set("vkquant.activations", str(s.activations));
  w.set("vkquant.calib_seqs", u64(s.calib_seqs));
  w.set("vkquant.calib_seq_len", u64(s.calib_seq_len));
  w.set("vkquant.seed", u64(s.seed));
}

}  // namespace

QuantizedGgufWriter::QuantizedGgufWriter(const model::GgufFile& input, const OutputPlan& plan, const RunSettings& settings,
                                         const std::string& path, bool force)
    : input_(input), plan_(plan), path_(path) {
  // Opens OUT.partial first, so an existing OUT fails before anything else is checked.
  writer_ = std::make_unique<GgufWriter>(path, force);
  const auto& tensors = input.tensors();
  if (tensors.size() != plan_.tensors.size())
    throw Error(path + ": the plan lists " + std::to_string(plan_.tensors.size()) + " tensors, the input " + input.path() +
                " has " + std::to_string(tensors.size()));
  for (size_t i = 0; i < tensors.size(); ++i)
    if (tensors[i].name != plan_.tensors[i].name || tensors[i].dims != plan_.tensors[i].dims ||
        tensors[i].type != plan_.tensors[i].input_type)
      throw Error(path + ": plan entry " + std::to_string(i) + " ('" + plan_.tensors[i].name +
                  "') does not match the input's tensor '" + tensors[i].name + "'");

  writer_->copy_metadata(input);
  // llama_model_quantize_impl sets these two after copying the input's keys.
  writer_->set("general.quantization_version", u32(kGgmlQuantizationVersion));
  writer_->set("general.file_type", u32(plan_.file_type));
  set_settings(*writer_, settings);
  for (const auto& t : plan_.tensors) writer_->add_tensor_info(t.name, t.dims, t.output_type);
  writer_->begin();
}

QuantizedGgufWriter::~QuantizedGgufWriter() = default;

const TensorPlan* QuantizedGgufWriter::next() const {
  return next_ < plan_.tensors.size() ? &plan_.tensors[next_] : nullptr;
}

const TensorPlan& QuantizedGgufWriter::expect(std::string_view name, const char* operation) {
  const std::string op = path_ + ": " + operation + "('" + std::string(name) + "')";
  if (next_ == plan_.tensors.size()) throw Error(op + ": every tensor is already written");
  const TensorPlan& t = plan_.tensors[next_];
  if (t.name != name) throw Error(op + ": tensors must come in the input's order; next is '" + t.name + "'");
  return t;
}

void QuantizedGgufWriter::push(const TensorPlan& t, const void* data, size_t n) {
  writer_->write_tensor(t.name, data, n);
  ++next_;
}

void QuantizedGgufWriter::write_quantized(std::string_view name, std::span<const int32_t> codes, std::span<const float> d,
                                          std::span<const float> m) {
  const TensorPlan& t = expect(name, "write_quantized");
  const auto bytes = pack_quantized_tensor(t, codes, d, m, path_ + ": write_quantized('" + t.name + "')");
  push(t, bytes.data(), bytes.size());
}

void QuantizedGgufWriter::write_superblocks(std::string_view name, std::span<const int32_t> codes,
                                            std::span<const float> d, std::span<const float> dmin,
                                            std::span<const int32_t> scales, std::span<const int32_t> mins) {
  const TensorPlan& t = expect(name, "write_superblocks");
  const auto bytes =
      pack_superblock_tensor(t, codes, d, dmin, scales, mins, path_ + ": write_superblocks('" + t.name + "')");
  push(t, bytes.data(), bytes.size());
}

void QuantizedGgufWriter::write_packed(std::string_view name, std::span<const uint8_t> bytes) {
  const TensorPlan& t = expect(name, "write_packed");
  const uint64_t want = t.rows() * model::ggml_row_size(t.output_type, t.cols());
  if (t.action != TensorAction::quantize || bytes.size() != want)
    throw Error(path_ + ": write_packed('" + t.name + "'): " + std::to_string(bytes.size()) + " bytes, the plan's " +
                tensor_action_name(t.action) + " to " + model::ggml_type_name(t.output_type) + " needs " +
                std::to_string(want));
  push(t, bytes.data(), bytes.size());
}

void QuantizedGgufWriter::write_float(std::string_view name, std::span<const float> values) {
  const TensorPlan& t = expect(name, "write_float");
  const std::string op = path_ + ": write_float('" + t.name + "')";
  if (is_quantized_type(t.output_type))
    throw Error(op + ": the plan writes it as " + model::ggml_type_name(t.output_type) + ", which needs codes");
  if (t.output_type != GgmlType::F32 && t.output_type != GgmlType::F16 && t.output_type != GgmlType::BF16)
    throw Error(op + ": cannot encode floats as " + std::string(model::ggml_type_name(t.output_type)));
  const uint64_t n = t.rows() * t.cols();
  if (values.size() != n) throw Error(op + ": " + std::to_string(values.size()) + " values, expected " + std::to_string(n));
  std::vector<uint8_t> bytes(model::ggml_row_size(t.output_type, n));
  model::encode_float_row(t.output_type, values.data(), bytes.data(), n);
  push(t, bytes.data(), bytes.size());
}

void QuantizedGgufWriter::write_from_input(std::string_view name) {
  const TensorPlan& t = expect(name, "write_from_input");
  const model::GgufTensorInfo& info = input_.tensor(t.name);
  switch (t.action) {
    case TensorAction::copy:
      push(t, input_.tensor_data(info), info.n_bytes());
      return;
    case TensorAction::convert:
      write_float(name, input_.read_f32(info));
      return;
    case TensorAction::quantize:
      break;
  }
  throw Error(path_ + ": write_from_input('" + t.name + "'): the plan quantizes it to " +
              model::ggml_type_name(t.output_type) + "; give its codes with write_quantized");
}

void QuantizedGgufWriter::finish() {
  if (next_ != plan_.tensors.size())
    throw Error(path_ + ": finish(): tensor '" + plan_.tensors[next_].name + "' and " +
                std::to_string(plan_.tensors.size() - next_ - 1) + " more were never written");
  writer_->finish();
}

}  // namespace vkq::io
