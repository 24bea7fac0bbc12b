#include "reference/elementwise_ref.hpp"

#include <cmath>

#include "vkquant/vkquant.hpp"

namespace vkq::ref {

std::vector<double> swiglu_ref(const std::vector<double>& gate, const std::vector<double>& up) {
  if (gate.size() != up.size()) throw Error("swiglu_ref: gate and up differ in size");
  std::vector<double> out(gate.size());
  for (size_t i = 0; i < gate.size(); ++i) out[i] = gate[i] / (1.0 + std::exp(-gate[i])) * up[i];
  return out;
}

std::vector<double> geglu_tanh_ref(const std::vector<double>& gate, const std::vector<double>& up) {
  if (gate.size() != up.size()) throw Error("geglu_tanh_ref: gate and up differ in size");
  const double k = std::sqrt(2.0 / 3.14159265358979323846);
  std::vector<double> out(gate.size());
  for (size_t i = 0; i < gate.size(); ++i) {
    const double g = gate[i];
    out[i] = 0.5 * g * (1.0 + std::tanh(k * g * (1.0 + 0.044715 * g * g))) * up[i];
  }
  return out;
}

std::vector<double> add_ref(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) throw Error("add_ref: operands differ in size");
  std::vector<double> out(a.size());
  for (size_t i = 0; i < a.size(); ++i) out[i] = a[i] + b[i];
  return out;
}

std::vector<double> embedding_gather_ref(const std::vector<double>& emb, const std::vector<int32_t>& ids, size_t cols) {
  if (cols == 0 || emb.size() % cols) throw Error("embedding_gather_ref: embedding is not rows x cols");
  const size_t vocab = emb.size() / cols;
  std::vector<double> out(ids.size() * cols);
  for (size_t t = 0; t < ids.size(); ++t) {
    if (ids[t] < 0 || size_t(ids[t]) >= vocab) throw Error("embedding_gather_ref: id outside the vocabulary");
    for (size_t c = 0; c < cols; ++c) out[t * cols + c] = emb[size_t(ids[t]) * cols + c];
  }
  return out;
}

}  // namespace vkq::ref
