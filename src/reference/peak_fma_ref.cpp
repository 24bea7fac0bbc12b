#include "reference/peak_fma_ref.hpp"

namespace vkq::ref {

std::vector<double> peak_fma_ref(uint32_t invocations, uint32_t iterations, float a, float b, uint32_t chains) {
  std::vector<double> out(invocations);
  for (uint32_t id = 0; id < invocations; ++id) {
    double sum = 0;
    for (uint32_t c = 0; c < chains; ++c) {
      const float shift = float(c) * 0.1f;
      const float start[4] = {float(id % 97u) * 0.01f + shift, 0.2f + shift, 0.3f + shift, 0.4f + shift};
      for (float s : start) {
        double x = s;
        for (uint32_t i = 0; i < iterations; ++i) x = x * double(a) + double(b);
        sum += x;
      }
    }
    out[id] = sum;
  }
  return out;
}

}  // namespace vkq::ref
