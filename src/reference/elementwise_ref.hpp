// float64 references of the forward pass's elementwise kernels: swiglu, add, embedding_gather.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace vkq::ref {

// silu(gate) * up with silu(x) = x / (1 + exp(-x)).
std::vector<double> swiglu_ref(const std::vector<double>& gate, const std::vector<double>& up);
// gelu_tanh(gate) · up, gelu_tanh(x) = 0.5 x (1 + tanh(√(2/π) x (1 + 0.044715 x²))) (Gemma's GeGLU).
std::vector<double> geglu_tanh_ref(const std::vector<double>& gate, const std::vector<double>& up);
std::vector<double> add_ref(const std::vector<double>& a, const std::vector<double>& b);
// Rows ids[t] of emb (vocab x cols packed), tokens x cols.
std::vector<double> embedding_gather_ref(const std::vector<double>& emb, const std::vector<int32_t>& ids, size_t cols);

}  // namespace vkq::ref
